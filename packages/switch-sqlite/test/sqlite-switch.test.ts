import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import path from "node:path";
import Database from "better-sqlite3";
import { createFakeClock, SwitchOptionError } from "@sessionoffload/switch-backend";
import { createSqliteSwitch, type SqliteSwitch } from "../src";
import type { Session } from "@sessionoffload/offload-api";
import { makeTempDir, removeTempDir, specFor } from "./fixtures/sqlite-helpers";

const TWO_53 = 1n << 53n;
const UINT64_MAX = (1n << 64n) - 1n;

describe("createSqliteSwitch", () => {
  let dir: string;
  let file: string;
  const open: SqliteSwitch[] = [];
  const make = (options: Partial<Parameters<typeof createSqliteSwitch>[0]> = {}): SqliteSwitch => {
    const sw = createSqliteSwitch({ path: file, traffic: false, tickIntervalMs: 0, ...options });
    open.push(sw);
    return sw;
  };

  beforeEach(() => {
    dir = makeTempDir();
    file = path.join(dir, "switch.db");
  });
  afterEach(() => {
    for (const sw of open.splice(0)) sw.close();
    removeTempDir(dir);
  });

  it("moves a schema version 1 file to version 2: sessions kept, per-session idle timeouts then honoured", async () => {
    const clock = createFakeClock({ start: BigInt(Date.now()) * 1_000_000n });
    const old = make({ clock });
    const kept = await old.add(specFor(1));
    old.close();
    // Back to what version 1 wrote: no idle_timeout_ms column, the old idle index.
    const raw = new Database(file);
    raw.exec(`DROP INDEX sessions_own_idle; DROP INDEX sessions_idle;
      ALTER TABLE sessions DROP COLUMN idle_timeout_ms;
      CREATE INDEX sessions_idle ON sessions (protocol, last_seen) WHERE live_key IS NOT NULL;
      PRAGMA user_version = 1;`);
    raw.close();
    const sw = make({ clock });
    if (kept.kind !== "accepted") throw new Error("first add not accepted");
    expect(sw.get(kept.session.id)).toMatchObject({ id: kept.session.id, state: "established" });
    const own = await sw.add(specFor(2), { id: 1000n });
    expect(own).toMatchObject({ kind: "accepted", session: { id: 1000n } });
    await sw.add({ ...specFor(3), idleTimeoutMs: 1_000 }, { id: 1001n });
    clock.advance(1_000);
    sw.step();
    expect(sw.get(1001n)).toMatchObject({ state: "closed", closeCode: "timeout" });
    expect(sw.get(1000n)).toMatchObject({ state: "established" });
    const check = new Database(file, { readonly: true });
    expect(check.pragma("user_version", { simple: true })).toBe(2);
    check.close();
  });

  it("shares one id space between connections: a client id is taken once, and the counter skips it", async () => {
    const a = make({ firstId: 500n });
    const b = make({ firstId: 500n });
    const [ra, rb] = await Promise.all([a.add(specFor(1), { id: 500n }), b.add(specFor(2), { id: 500n })]);
    expect([ra.kind, rb.kind].sort()).toEqual(["accepted", "alreadyExists"]);
    await a.add(specFor(3), { id: 501n });
    // The shared counter starts at 500: both ids are held by a client, so the switch gives 502.
    const assigned = await b.add(specFor(4));
    expect(assigned).toMatchObject({ kind: "accepted", session: { id: 502n } });
    expect(await a.add(specFor(5), { id: 502n })).toEqual({ kind: "alreadyExists", id: 502n });
    expect([...a.sessions()].map((s) => s.id)).toEqual([500n, 501n, 502n]);
  });

  it("decides concurrent adds of one tick in arrival order inside one group commit", async () => {
    const sw = make({ capacity: 2 });
    const results = await Promise.all([specFor(1), specFor(1), specFor(2), specFor(3)].map((s) => sw.add(s)));
    expect(results.map((r) => r.kind)).toEqual(["accepted", "alreadyExists", "accepted", "tableFull"]);
    const first = results[0];
    if (first?.kind !== "accepted") throw new Error("first add not accepted");
    expect(results[1]).toEqual({ kind: "alreadyExists", id: first.session.id });
    expect(sw.commitStats()).toEqual({ commits: 1, adds: 4, deletes: 0 });
    expect(sw.size()).toBe(2);
  });

  it("splits a burst larger than maxBatch into several commits", async () => {
    const sw = make({ maxBatch: 10 });
    await Promise.all(Array.from({ length: 25 }, (_, i) => sw.add(specFor(i))));
    expect(sw.commitStats()).toEqual({ commits: 3, adds: 25, deletes: 0 });
  });

  it("round-trips ids and counters past 2^53 and 2^63 exactly, in id order", async () => {
    const sw = make({ firstId: (1n << 63n) - 1n });
    const a = await sw.add(specFor(1));
    const b = await sw.add(specFor(2));
    if (a.kind !== "accepted" || b.kind !== "accepted") throw new Error("not accepted");
    expect([a.session.id, b.session.id]).toEqual([(1n << 63n) - 1n, 1n << 63n]);
    const big = { inPackets: TWO_53 + 1n, outPackets: UINT64_MAX - 1n, inBytes: (1n << 63n) + 5n, outBytes: 7n };
    expect(sw.addTraffic(b.session.id, big)).toBe(true);
    expect(sw.get(b.session.id)).toMatchObject(big);
    expect([...sw.sessions()].map((s) => s.id)).toEqual([(1n << 63n) - 1n, 1n << 63n]);
    expect([...sw.sessions({ afterId: (1n << 63n) - 1n })].map((s) => s.id)).toEqual([1n << 63n]);
    // Counters wrap at 2^64 like the memory switch's.
    sw.addTraffic(b.session.id, { inPackets: 0n, outPackets: 5n, inBytes: 0n, outBytes: 0n });
    expect(sw.get(b.session.id)?.outPackets).toBe(3n);
    expect(() => sw.addTraffic(b.session.id, { inPackets: -1n, outPackets: 0n, inBytes: 0n, outBytes: 0n })).toThrow(
      /inPackets must be a bigint in 0..2\^64-1/,
    );
  });

  it("wraps the id counter past 2^64-1 to 1, skipping ids still in the table", async () => {
    const first = make({ firstId: 1n });
    await first.add(specFor(1)); // id 1 stays
    first.close();
    open.length = 0;
    const db = new Database(file);
    db.prepare("UPDATE switch_state SET next_id = ?").run((1n << 63n) - 1n); // id 2^64-1
    db.close();
    const sw = make();
    const ids = (await Promise.all([specFor(2), specFor(3)].map((s) => sw.add(s)))).map((r) =>
      r.kind === "accepted" ? r.session.id : r.kind,
    );
    expect(ids).toEqual([UINT64_MAX, 2n]);
  });

  it("delete answers closing1 with endTime now, removes the entry and frees capacity", async () => {
    const clock = createFakeClock();
    const sw = make({ capacity: 1, clock });
    const added = await sw.add(specFor(1));
    if (added.kind !== "accepted") throw new Error("not accepted");
    clock.advance(1500);
    const deleted = await sw.delete(added.session.id);
    expect(deleted).toMatchObject({ id: added.session.id, state: "closing1", endTime: clock.now() });
    expect(sw.get(added.session.id)).toBeUndefined();
    expect(await sw.delete(added.session.id)).toBeUndefined();
    expect((await sw.add(specFor(2))).kind).toBe("accepted");
  });

  it("commits the deletes and adds of one turn together, decided in arrival order", async () => {
    const sw = make({ capacity: 1 });
    const first = await sw.add(specFor(1));
    if (first.kind !== "accepted") throw new Error("not accepted");
    const before = sw.commitStats();
    const [full, deleted, readded, unknown] = await Promise.all([
      sw.add(specFor(2)), // before the delete: the table is full
      sw.delete(first.session.id),
      sw.add(specFor(1)), // after it: the 7-tuple and the capacity are free again
      sw.delete(first.session.id),
    ]);
    expect(full).toEqual({ kind: "tableFull" });
    expect(deleted).toMatchObject({ id: first.session.id, state: "closing1" });
    expect(readded?.kind).toBe("accepted");
    expect(unknown).toBeUndefined();
    expect(sw.commitStats()).toEqual({ commits: before.commits + 1, adds: before.adds + 2, deletes: 2 });
    expect(sw.size()).toBe(1);
  });

  it("runs the TCP FIN half-close, RST and separate idle timeouts refreshed by traffic", async () => {
    const clock = createFakeClock();
    const sw = make({ clock, tcpIdleTimeoutMs: 10_000, udpIdleTimeoutMs: 2_000 });
    const ids: bigint[] = [];
    for (const s of [specFor(1), specFor(2), specFor(3, "udp"), specFor(4, "udp"), specFor(5)]) {
      const r = await sw.add(s);
      if (r.kind !== "accepted") throw new Error("not accepted");
      ids.push(r.session.id);
    }
    const [fin, rst, udpIdle, udpBusy, tcpIdle] = ids as [bigint, bigint, bigint, bigint, bigint];
    expect([sw.finStep(fin), sw.finStep(fin)]).toEqual(["closing1", "closing2"]);
    expect(sw.get(fin)).toMatchObject({ state: "closing2", closeCode: "notClosed", endTime: undefined });
    expect(sw.finStep(fin)).toBe("closed");
    expect(sw.get(fin)).toMatchObject({ state: "closed", closeCode: "finAck", endTime: clock.now() });
    expect(() => sw.finStep(udpIdle)).toThrow(/UDP and has no FIN/);
    expect(() => sw.endSession(udpIdle, "rst")).toThrow(/only timeout can end it/);
    expect(sw.finStep(12345n)).toBeUndefined();
    expect(sw.endSession(rst, "rst")).toBe(true);
    expect(sw.endSession(rst, "rst")).toBe(false);
    clock.advance(1_500);
    sw.addTraffic(udpBusy, { inPackets: 1n, outPackets: 0n, inBytes: 60n, outBytes: 0n });
    clock.advance(1_000);
    expect(sw.step()).toEqual({ leader: true, visited: 0, expired: 1 });
    expect(sw.get(udpIdle)).toMatchObject({ state: "closed", closeCode: "timeout" });
    expect(sw.get(udpBusy)?.state).toBe("established");
    clock.advance(8_000);
    sw.step();
    expect(sw.get(tcpIdle)).toMatchObject({ state: "closed", closeCode: "timeout" });
    // An ended session's 7-tuple may be reused while the old entry waits for collection.
    expect((await sw.add(specFor(1))).kind).toBe("accepted");
    expect(sw.size()).toBe(6);
  });

  it("runs a seeded traffic model: the same seed gives the same table", async () => {
    const run = async (seed: number, name: string): Promise<Session[]> => {
      const clock = createFakeClock();
      const sw = createSqliteSwitch({
        path: path.join(dir, name),
        clock,
        seed,
        tickIntervalMs: 0,
        traffic: { samplesPerTick: 50, finProbability: 0.2, rstProbability: 0.05 },
      });
      try {
        for (let i = 0; i < 40; i++) await sw.add(specFor(i));
        for (let t = 0; t < 4; t++) {
          clock.advance(100);
          sw.step();
        }
        return [...sw.sessions()];
      } finally {
        sw.close();
      }
    };
    const a = await run(7, "a.db");
    const b = await run(7, "b.db");
    const c = await run(8, "c.db");
    const strip = (list: Session[]) => list.map(({ startTime: _s, endTime: _e, ...rest }) => rest);
    expect(strip(a)).toEqual(strip(b));
    expect(strip(a)).not.toEqual(strip(c));
    expect(a.some((s) => s.inPackets > 0n)).toBe(true);
    expect(new Set(a.map((s) => s.closeCode))).toEqual(new Set(["notClosed", "finAck", "rst"]));
  });

  it("leases closed sessions exactly once; settle removes the delivered and releases the rest", async () => {
    const sw = make();
    const ids: bigint[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await sw.add(specFor(i));
      if (r.kind === "accepted") ids.push(r.session.id);
    }
    for (const id of ids) sw.endSession(id, "rst");
    const first = sw.takeClosed(3);
    const second = sw.takeClosed(10);
    expect(first.sessions.map((s) => s.id)).toEqual(ids.slice(0, 3));
    expect(second.sessions.map((s) => s.id)).toEqual(ids.slice(3));
    expect(sw.takeClosed(10).sessions).toEqual([]);
    first.settle([ids[0] as bigint]);
    second.settle([]);
    expect(sw.size()).toBe(4);
    expect(sw.takeClosed(10).sessions.map((s) => s.id)).toEqual(ids.slice(1));
    expect(() => sw.takeClosed(0)).toThrow(/max must be an integer >= 1/);
  });

  it("hands out the sessions that ended first, each lease in id order", async () => {
    const clock = createFakeClock();
    const sw = make({ clock });
    for (let i = 0; i < 4; i++) await sw.add(specFor(i));
    for (const id of [3n, 1n, 4n, 2n]) {
      clock.advance(1);
      sw.endSession(id, "rst");
    }
    expect(sw.takeClosed(2).sessions.map((s) => s.id)).toEqual([1n, 3n]);
    expect(sw.takeClosed(1).sessions.map((s) => s.id)).toEqual([4n]);
  });

  it("pages sessions() lazily: rows added after the iterator started are seen, no read stays open", async () => {
    const sw = make({ pageSize: 4 });
    for (let i = 0; i < 10; i++) await sw.add(specFor(i));
    const seen: bigint[] = [];
    for (const s of sw.sessions()) {
      seen.push(s.id);
      // A write while iterating: a held read transaction would not see it (and would block checkpoints).
      if (seen.length === 5) await sw.add(specFor(100));
    }
    expect(seen).toEqual(Array.from({ length: 11 }, (_, i) => BigInt(i + 1)));
  });

  it("reopens with every session, counter and undelivered closed session as it was", async () => {
    const clock = createFakeClock();
    const sw = make({ clock });
    for (let i = 0; i < 6; i++) await sw.add(specFor(i, i % 2 === 0 ? "tcp" : "udp"));
    sw.addTraffic(2n, { inPackets: 3n, outPackets: 4n, inBytes: 300n, outBytes: 400n });
    sw.endSession(3n, "timeout");
    sw.endSession(4n, "timeout");
    sw.finStep(5n);
    const lease = sw.takeClosed(1); // held when the switch closes: released, not lost
    expect(lease.sessions.map((s) => s.id)).toEqual([3n]);
    const before = [...sw.sessions()];
    sw.close();
    const again = make({ clock });
    expect([...again.sessions()]).toEqual(before);
    expect(again.takeClosed(10).sessions.map((s) => s.id)).toEqual([3n, 4n]);
    const next = await again.add(specFor(50));
    expect(next.kind === "accepted" && next.session.id).toBe(7n);
  });

  it("runs the traffic model and idle timeouts in one instance at a time, taken over when the leader stops", async () => {
    const clock = createFakeClock();
    const a = make({ clock, leaseTimeoutMs: 1000, udpIdleTimeoutMs: 10 });
    const b = make({ clock, leaseTimeoutMs: 1000, udpIdleTimeoutMs: 10 });
    await a.add(specFor(1, "udp"));
    expect(a.step().leader).toBe(true);
    expect(b.step().leader).toBe(false);
    clock.advance(20);
    // B is not the leader: its step ends nothing although the session is idle.
    expect(b.step()).toEqual({ leader: false, visited: 0, expired: 0 });
    expect(b.get(1n)?.state).toBe("established");
    expect(a.step()).toEqual({ leader: true, visited: 0, expired: 1 });
    // A leader that stops renewing (hung or dead) is taken over once its lease has expired.
    clock.advance(1001);
    expect(b.step().leader).toBe(true);
    expect(a.step().leader).toBe(false);
    // A leader that closes hands over at once.
    b.close();
    expect(a.step().leader).toBe(true);
  });

  it("shares closed-session leases between instances: a closed instance's open lease comes back", async () => {
    const a = make();
    const b = make();
    for (let i = 0; i < 4; i++) await a.add(specFor(i));
    for (let id = 1n; id <= 4n; id++) b.endSession(id, "finAck");
    const leaseA = a.takeClosed(2);
    expect(leaseA.sessions.map((s) => s.id)).toEqual([1n, 2n]);
    expect(b.takeClosed(10).sessions.map((s) => s.id)).toEqual([3n, 4n]);
    a.close();
    expect(b.takeClosed(10).sessions.map((s) => s.id)).toEqual([1n, 2n]);
  });

  it("reports a background tick that cannot get the write lock to the logger, and goes on", async () => {
    const warnings: string[] = [];
    let warned: () => void = () => undefined;
    const firstWarning = new Promise<void>((resolve) => {
      warned = resolve;
    });
    const logger = {
      debug: () => undefined,
      info: () => undefined,
      error: () => undefined,
      warn: (_fields: object, message?: string) => {
        warnings.push(message ?? "");
        warned();
      },
    };
    const sw = make({ logger, busyTimeoutMs: 0, tickIntervalMs: 5 });
    const blocker = new Database(file);
    blocker.exec("BEGIN IMMEDIATE");
    try {
      await firstWarning;
    } finally {
      blocker.exec("ROLLBACK");
      blocker.close();
    }
    expect(warnings[0]).toMatch(/sqlite switch (tick|heartbeat) failed; retrying next period/);
    expect(sw.step().leader).toBe(true);
  });

  it("answers a closed switch with an error", async () => {
    const sw = make();
    sw.close();
    expect(() => sw.get(1n)).toThrow(/is closed/);
    await expect(sw.add(specFor(1))).rejects.toThrow(/is closed/);
    await expect(sw.delete(1n)).rejects.toThrow(/is closed/);
    sw.close(); // idempotent
  });

  it.each([
    [{ path: "" }, "path"],
    [{ path: ":memory:" }, "path"],
    [{ capacity: 0 }, "capacity"],
    [{ synchronous: "off" as "full" }, "synchronous"],
    [{ leaseTimeoutMs: 5 }, "leaseTimeoutMs"],
    [{ heartbeatIntervalMs: 6000 }, "heartbeatIntervalMs"],
    [{ firstId: 0n }, "firstId"],
    [{ traffic: { finProbability: 2 } }, "traffic.finProbability"],
  ])("refuses bad option %j naming %s", (bad, option) => {
    let error: unknown;
    try {
      make(bad);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SwitchOptionError);
    expect((error as SwitchOptionError).option).toBe(option);
  });
});

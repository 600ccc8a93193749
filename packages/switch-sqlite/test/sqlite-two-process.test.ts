import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import path from "node:path";
import { createSqliteSwitch, type SqliteSwitch } from "../src";
import { makeTempDir, removeTempDir, specFor, startFixture, type FixtureProcess } from "./fixtures/sqlite-helpers";

const PER_PEER = 400;

describe("two processes over one SQLite switch file", () => {
  let dir: string;
  let peers: FixtureProcess[] = [];
  let local: SqliteSwitch | undefined;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(async () => {
    local?.close();
    local = undefined;
    for (const peer of peers) if (peer.child.exitCode === null) peer.child.kill("SIGKILL");
    await Promise.all(peers.map((peer) => peer.exited));
    peers = [];
    removeTempDir(dir);
  });

  it("waits out another process's write lock while switching a new file to WAL", async () => {
    // SQLite answers the journal-mode change SQLITE_BUSY at once, without its busy
    // handler, while another connection holds the write lock: two servers starting
    // on a new file at the same moment met that.
    const file = path.join(dir, "switch.db");
    const holder = startFixture("sqlite-lock-holder.ts", [file, "400"]);
    peers = [holder];
    await holder.waitFor((line) => line === "locked");
    const started = Date.now();
    local = createSqliteSwitch({ path: file, traffic: false, tickIntervalMs: 0 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    await holder.waitFor((line) => line === "released");
    const added = await local.add(specFor(1));
    expect(added.kind).toBe("accepted");
    expect(await holder.exited).toBe(0);
  });

  it("shares one table: unique ids, updates seen across processes, closed delivered exactly once", async () => {
    const file = path.join(dir, "switch.db");
    peers = [
      startFixture("sqlite-peer.ts", [file, "a", String(PER_PEER)]),
      startFixture("sqlite-peer.ts", [file, "b", String(PER_PEER)]),
    ];
    await Promise.all(peers.map((peer) => peer.waitFor((line) => line === "adds-done")));
    const added = peers.flatMap((peer) =>
      peer.lines.filter((l) => l.startsWith("added ")).map((l) => BigInt(l.slice(6))),
    );
    expect(added).toHaveLength(2 * PER_PEER);
    expect(new Set(added).size).toBe(added.length);

    // This process (a third opener) lists both peers' sessions, updates and ends them.
    local = createSqliteSwitch({ path: file, traffic: false, tickIntervalMs: 0 });
    const listed = [...local.sessions()].map((s) => s.id);
    expect(listed).toEqual([...added].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
    for (const id of added) {
      local.addTraffic(id, { inPackets: id % 97n, outPackets: 1n, inBytes: 64n, outBytes: 64n });
    }
    const deleted = added.filter((_, i) => i % 10 === 0);
    for (const id of deleted) expect((await local.delete(id))?.state).toBe("closing1");
    const toClose = added.filter((_, i) => i % 10 !== 0);
    for (const id of toClose) expect(local.endSession(id, "finAck")).toBe(true);
    // Both peers collect at once, competing for the same closed sessions.
    for (const peer of peers) peer.child.stdin.write("collect\nstop\n");
    await Promise.all(peers.map((peer) => peer.waitFor((line) => line === "done")));
    expect(await Promise.all(peers.map((peer) => peer.exited))).toEqual([0, 0]);

    const delivered = peers.flatMap((peer) =>
      peer.lines.filter((l) => l.startsWith("closed ")).map((l) => l.split(" ")),
    );
    const deliveredIds = delivered.map((fields) => BigInt(fields[1] ?? "0"));
    expect(new Set(deliveredIds).size).toBe(deliveredIds.length);
    expect(new Set(deliveredIds)).toEqual(new Set(toClose));
    // Both peers took part, and each saw the counters this process wrote.
    expect(peers.every((peer) => peer.lines.some((l) => l.startsWith("closed ")))).toBe(true);
    for (const fields of delivered) {
      expect(fields[2]).toBe("finAck");
      expect(BigInt(fields[3] ?? "-1")).toBe(BigInt(fields[1] ?? "0") % 97n);
    }
    expect(local.size()).toBe(0);
  });
});

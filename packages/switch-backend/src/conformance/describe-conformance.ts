import { describe, expect, it } from "@jest/globals";
import { UINT64_MAX, type Session, type SessionSpec } from "@sessionoffload/offload-api";
import type { SwitchBackend, TrafficDelta } from "../backend";
import { describeClientIdCases } from "./client-id-cases";
import type { ConformanceHarness, HarnessFactory, HarnessOptions } from "./harness";
import { describeIdleTimeoutCases } from "./idle-timeout-cases";
import { conformanceSpec } from "./session-specs";
import {
  accepted,
  alreadyExists,
  CLOCK_SLACK_NS,
  collect,
  drainClosed,
  expectAscending,
  ids,
  nowNs,
  TABLE_FULL,
  TWO_53,
  type EndCode,
} from "./support";

/** Options of `describeSwitchBackendConformance`. */
export interface ConformanceOptions {
  /** Timeout of each test in ms; default 30,000. */
  readonly timeoutMs?: number;
  /** How many adds the concurrency test runs at once; default 10,000 (the contract's figure). */
  readonly concurrentAdds?: number;
  /**
   * Parts of the contract the backend does not honour yet, whose cases are
   * reported as skipped instead of run: say why in the test that passes it.
   */
  readonly notYet?: readonly ConformanceFeature[];
}

/**
 * Groups of conformance cases a backend may declare as not honoured:
 * `clientIds`, `idleTimeouts`, and `lifOnlyVariants` (two live sessions whose
 * 7-tuples differ only in inLif or outLif: a switch whose data plane keys
 * flows by their 5-tuple, as Linux conntrack does, refuses the second with a
 * ValidationError naming the interface).
 */
export type ConformanceFeature = "clientIds" | "idleTimeouts" | "lifOnlyVariants";

/**
 * Registers the SwitchBackend conformance suite (a jest `describe` block named
 * `SwitchBackend conformance: <name>`) for any backend. `factory` makes a
 * fresh, empty harness for each test; the suite disposes it. Cases: add,
 * duplicates on the 7-tuple, capacity, get, delete, id order and `afterId`,
 * closed delivery exactly once (partial and abandoned leases, concurrent
 * leases), concurrent adds, ids and counters past 2^53, bad options,
 * client-assigned ids (one id space for both API generations), per-session
 * idle timeouts, and `stats()` where the backend has it. Counter cases are
 * skipped when the harness has no `addTraffic`, idle-timeout cases when it
 * has no `advanceIdleTime`.
 */
export function describeSwitchBackendConformance(
  name: string,
  factory: HarnessFactory,
  options: ConformanceOptions = {},
): void {
  const timeout = options.timeoutMs ?? 30_000;
  const concurrentAdds = options.concurrentAdds ?? 10_000;

  async function withHarness(
    harnessOptions: HarnessOptions,
    body: (harness: ConformanceHarness, backend: SwitchBackend) => Promise<void>,
  ): Promise<void> {
    const harness = await factory(harnessOptions);
    try {
      await body(harness, harness.backend);
    } finally {
      await harness.dispose();
    }
  }

  async function traffic(harness: ConformanceHarness, id: bigint, delta: TrafficDelta): Promise<void> {
    if (harness.addTraffic === undefined) throw new Error("the harness has no addTraffic");
    await harness.addTraffic(id, delta);
  }

  describe(`SwitchBackend conformance: ${name}`, () => {
    describeClientIdCases(withHarness, timeout, options.notYet?.includes("clientIds") ?? false);
    describeIdleTimeoutCases(withHarness, timeout, options.notYet?.includes("idleTimeouts") ?? false);

    describe("add", () => {
      it(
        "accepts a new session: established, not closed, zero counters, startTime now, no endTime",
        () =>
          withHarness({ capacity: 10 }, async (_h, backend) => {
            const before = nowNs();
            const session = await accepted(backend, conformanceSpec(1));
            const after = nowNs();
            expect(session.id).toBeGreaterThan(0n);
            expect(session.id).toBeLessThanOrEqual(UINT64_MAX);
            expect(session).toMatchObject({
              state: "established",
              closeCode: "notClosed",
              inPackets: 0n,
              outPackets: 0n,
              inBytes: 0n,
              outBytes: 0n,
              endTime: undefined,
            });
            expect(session.startTime).toBeGreaterThanOrEqual(before - CLOCK_SLACK_NS);
            expect(session.startTime).toBeLessThanOrEqual(after + CLOCK_SLACK_NS);
            expect(await backend.get(session.id)).toEqual(session);
            expect(await backend.size()).toBe(1);
          }),
        timeout,
      );

      it(
        "answers alreadyExists with the existing id for a live 7-tuple, and adds nothing",
        () =>
          withHarness({ capacity: 10 }, async (_h, backend) => {
            const first = await accepted(backend, conformanceSpec(1));
            const again = await backend.add(conformanceSpec(1));
            expect(again).toEqual(alreadyExists(first.id));
            // The action and next hop are not part of the 7-tuple.
            const otherAction = await backend.add(conformanceSpec(1, { action: "mirror", nextHop: "192.0.2.9" }));
            expect(otherAction).toEqual(alreadyExists(first.id));
            expect(await backend.size()).toBe(1);
          }),
        timeout,
      );

      const tupleFields: ReadonlyArray<[string, Partial<SessionSpec>]> = [
        ["inLif", { inLif: "eth7" }],
        ["outLif", { outLif: "eth8" }],
        ["sourceIp", { sourceIp: Uint8Array.of(10, 9, 9, 9) }],
        ["sourcePort", { sourcePort: 4000 }],
        ["destinationIp", { destinationIp: Uint8Array.of(192, 0, 2, 2) }],
        ["destinationPort", { destinationPort: 8443 }],
        ["protocol", { protocol: "udp" }],
        [
          "IP version (IPv6 addresses)",
          {
            ipVersion: "ipv6",
            sourceIp: Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? 0x20 : i)),
            destinationIp: Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? 0x20 : 16 - i)),
          },
        ],
      ];
      const lifOnly = options.notYet?.includes("lifOnlyVariants") ?? false;
      const shown = lifOnly ? tupleFields.filter(([field]) => field !== "inLif" && field !== "outLif") : tupleFields;
      if (lifOnly)
        it.skip("treats 7-tuples that differ only in inLif or outLif as different sessions", () => undefined);
      it.each(shown)(
        "treats a 7-tuple that differs only in %s as a different session",
        (_field, change) =>
          withHarness({ capacity: 10 }, async (_h, backend) => {
            const first = await accepted(backend, conformanceSpec(1));
            const second = await accepted(backend, conformanceSpec(1, change));
            expect(second.id).not.toBe(first.id);
            expect(await backend.add(conformanceSpec(1, change))).toEqual(alreadyExists(second.id));
            expect(await backend.size()).toBe(2);
          }),
        timeout,
      );

      it.each<[EndCode]>([["finAck"], ["rst"], ["timeout"]])(
        "accepts the 7-tuple of a session that ended (%s) but was not collected, with a new id",
        (code) =>
          withHarness({ capacity: 10 }, async (harness, backend) => {
            const first = await accepted(backend, conformanceSpec(1));
            await harness.endSession(first.id, code);
            const second = await accepted(backend, conformanceSpec(1));
            expect(second.id).not.toBe(first.id);
            expect(await backend.size()).toBe(2);
            expect(await backend.get(first.id)).toMatchObject({ state: "closed", closeCode: code });
          }),
        timeout,
      );

      it(
        "answers tableFull at capacity; an ended session holds its entry until it is collected",
        () =>
          withHarness({ capacity: 2 }, async (harness, backend) => {
            const a = await accepted(backend, conformanceSpec(1));
            await accepted(backend, conformanceSpec(2));
            expect(await backend.add(conformanceSpec(3))).toEqual(TABLE_FULL);
            await harness.endSession(a.id, "rst");
            expect(await backend.add(conformanceSpec(3))).toEqual(TABLE_FULL);
            // Re-adding the ended session's own tuple needs an entry too.
            expect(await backend.add(conformanceSpec(1))).toEqual(TABLE_FULL);
            const lease = await backend.takeClosed(10);
            expect(ids(lease.sessions)).toEqual([a.id]);
            await lease.settle([a.id]);
            expect(await backend.size()).toBe(1);
            await accepted(backend, conformanceSpec(3));
            expect(await backend.add(conformanceSpec(4))).toEqual(TABLE_FULL);
          }),
        timeout,
      );

      it(
        "frees an entry on delete",
        () =>
          withHarness({ capacity: 1 }, async (_h, backend) => {
            const a = await accepted(backend, conformanceSpec(1));
            expect(await backend.add(conformanceSpec(2))).toEqual(TABLE_FULL);
            await backend.delete(a.id);
            await accepted(backend, conformanceSpec(2));
          }),
        timeout,
      );
    });

    describe("get", () => {
      it(
        "answers a known session as it is now, including its end",
        () =>
          withHarness({ capacity: 10 }, async (harness, backend) => {
            const a = await accepted(backend, conformanceSpec(1));
            expect(await backend.get(a.id)).toEqual(a);
            await harness.endSession(a.id, "finAck");
            const ended = await backend.get(a.id);
            expect(ended).toMatchObject({ id: a.id, state: "closed", closeCode: "finAck", startTime: a.startTime });
            expect(ended?.endTime).toBeDefined();
            expect(ended?.endTime ?? 0n).toBeGreaterThanOrEqual(a.startTime);
          }),
        timeout,
      );

      it(
        "answers undefined for an unknown id",
        () =>
          withHarness({ capacity: 10 }, async (_h, backend) => {
            const a = await accepted(backend, conformanceSpec(1));
            for (const id of [0n, a.id + 1000n, UINT64_MAX]) expect(await backend.get(id)).toBeUndefined();
          }),
        timeout,
      );
    });

    describe("delete", () => {
      it(
        "removes a known session at once and answers its final state: closing1, endTime set",
        () =>
          withHarness({ capacity: 10 }, async (harness, backend) => {
            const a = await accepted(backend, conformanceSpec(1));
            const b = await accepted(backend, conformanceSpec(2));
            const delta: TrafficDelta = { inPackets: 3n, outPackets: 4n, inBytes: 300n, outBytes: 400n };
            if (harness.addTraffic !== undefined) await traffic(harness, a.id, delta);
            const deleted = await backend.delete(a.id);
            expect(deleted).toMatchObject({ id: a.id, state: "closing1", startTime: a.startTime });
            if (harness.addTraffic !== undefined) expect(deleted).toMatchObject(delta);
            expect(deleted?.endTime).toBeDefined();
            expect(deleted?.endTime ?? 0n).toBeGreaterThanOrEqual(a.startTime);
            expect(await backend.get(a.id)).toBeUndefined();
            expect(await backend.delete(a.id)).toBeUndefined();
            expect(await backend.size()).toBe(1);
            expect(ids(await collect(backend.sessions()))).toEqual([b.id]);
            // Its 7-tuple is free again.
            const again = await accepted(backend, conformanceSpec(1));
            expect(again.id).not.toBe(a.id);
          }),
        timeout,
      );

      it(
        "answers undefined for an unknown id and changes nothing",
        () =>
          withHarness({ capacity: 10 }, async (_h, backend) => {
            const a = await accepted(backend, conformanceSpec(1));
            expect(await backend.delete(a.id + 1n)).toBeUndefined();
            expect(await backend.delete(0n)).toBeUndefined();
            expect(await backend.size()).toBe(1);
          }),
        timeout,
      );

      it(
        "never hands a deleted session out as closed, even one deleted while leased",
        () =>
          withHarness({ capacity: 10 }, async (harness, backend) => {
            const a = await accepted(backend, conformanceSpec(1));
            const b = await accepted(backend, conformanceSpec(2));
            const c = await accepted(backend, conformanceSpec(3));
            for (const s of [a, b, c]) await harness.endSession(s.id, "rst");
            expect(await backend.delete(a.id)).toMatchObject({ id: a.id, state: "closing1" });
            const lease = await backend.takeClosed(10);
            expect(ids(lease.sessions)).toEqual([b.id, c.id]);
            expect(await backend.delete(b.id)).toMatchObject({ id: b.id });
            await lease.settle([]);
            expect(ids(await drainClosed(backend))).toEqual([c.id]);
            expect(await backend.size()).toBe(0);
          }),
        timeout,
      );
    });

    describe("sessions", () => {
      it(
        "yields every entry, live and closed-not-collected, in ascending id order; afterId is exclusive",
        () =>
          withHarness({ capacity: 20 }, async (harness, backend) => {
            const added: bigint[] = [];
            for (let i = 0; i < 8; i++) added.push((await accepted(backend, conformanceSpec(i))).id);
            expectAscending(added);
            await backend.delete(added[2] ?? 0n);
            await harness.endSession(added[5] ?? 0n, "timeout");
            const expected = added.filter((_, i) => i !== 2);
            const all = await collect(backend.sessions());
            expect(ids(all)).toEqual(expected);
            expect(all[4]).toMatchObject({ state: "closed", closeCode: "timeout" });
            expect(ids(await collect(backend.sessions({ afterId: added[3] ?? 0n })))).toEqual(expected.slice(3));
            expect(ids(await collect(backend.sessions({ afterId: added[2] ?? 0n })))).toEqual(expected.slice(2));
            expect(ids(await collect(backend.sessions({ afterId: added[7] ?? 0n })))).toEqual([]);
            expect(ids(await collect(backend.sessions({ afterId: 0n })))).toEqual(expected);
          }),
        timeout,
      );

      it(
        "tolerates adds and deletes while iterating: ascending, no repeats, unchanged entries all seen",
        () =>
          withHarness({ capacity: 100 }, async (_h, backend) => {
            const added: bigint[] = [];
            for (let i = 0; i < 20; i++) added.push((await accepted(backend, conformanceSpec(i))).id);
            const seen: bigint[] = [];
            let n = 100;
            for await (const session of backend.sessions()) {
              seen.push(session.id);
              if (seen.length === 5) {
                await backend.delete(added[15] ?? 0n);
                await backend.delete(added[2] ?? 0n);
              }
              if (seen.length % 4 === 0) await accepted(backend, conformanceSpec(n++));
            }
            expectAscending(seen);
            expect(seen).not.toContain(added[15]);
            const untouched = added.filter((_, i) => i !== 15 && i !== 2);
            for (const id of untouched) expect(seen).toContain(id);
          }),
        timeout,
      );

      it(
        "yields nothing for an empty table",
        () =>
          withHarness({ capacity: 10 }, async (_h, backend) => {
            expect(await collect(backend.sessions())).toEqual([]);
            expect(await backend.size()).toBe(0);
          }),
        timeout,
      );
    });

    describe("takeClosed", () => {
      it(
        "hands out each ended session exactly once, with close code and endTime, in id order",
        () =>
          withHarness({ capacity: 10 }, async (harness, backend) => {
            const codes: EndCode[] = ["rst", "finAck", "timeout", "rst", "timeout"];
            const added: Session[] = [];
            for (let i = 0; i < codes.length; i++) added.push(await accepted(backend, conformanceSpec(i)));
            const live = await accepted(backend, conformanceSpec(99));
            for (let i = codes.length - 1; i >= 0; i--) await harness.endSession(added[i]?.id ?? 0n, codes[i] ?? "rst");
            const first = await backend.takeClosed(2);
            expect(first.sessions).toHaveLength(2);
            expectAscending(ids(first.sessions));
            await first.settle(ids(first.sessions));
            const rest = await drainClosed(backend);
            const delivered = [...first.sessions, ...rest];
            expect(ids(delivered).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))).toEqual(ids(added));
            for (const session of delivered) {
              const i = added.findIndex((s) => s.id === session.id);
              expect(session).toMatchObject({ state: "closed", closeCode: codes[i] });
              expect(session.endTime ?? -1n).toBeGreaterThanOrEqual(added[i]?.startTime ?? 0n);
              expect(await backend.get(session.id)).toBeUndefined();
            }
            expect(ids(await collect(backend.sessions()))).toEqual([live.id]);
            const empty = await backend.takeClosed(10);
            expect(empty.sessions).toEqual([]);
            await empty.settle([]);
          }),
        timeout,
      );

      it(
        "returns the undelivered part of a lease for the next take (a delivery abandoned halfway)",
        () =>
          withHarness({ capacity: 10 }, async (harness, backend) => {
            const added: bigint[] = [];
            for (let i = 0; i < 4; i++) added.push((await accepted(backend, conformanceSpec(i))).id);
            for (const id of added) await harness.endSession(id, "rst");
            const lease = await backend.takeClosed(3);
            expect(lease.sessions).toHaveLength(3);
            const [done, ...undone] = ids(lease.sessions);
            await lease.settle([done ?? 0n]);
            expect(await backend.size()).toBe(3);
            const again = await drainClosed(backend);
            const expected = added.filter((id) => id !== done);
            expect(ids(again).sort((x, y) => (x < y ? -1 : 1))).toEqual(expected);
            for (const id of undone) expect(ids(again)).toContain(id);
            expect(await backend.size()).toBe(0);
          }),
        timeout,
      );

      it(
        "returns every session of a lease settled with none delivered",
        () =>
          withHarness({ capacity: 10 }, async (harness, backend) => {
            const a = await accepted(backend, conformanceSpec(1));
            await harness.endSession(a.id, "timeout");
            const lease = await backend.takeClosed(5);
            expect(ids(lease.sessions)).toEqual([a.id]);
            await lease.settle([]);
            expect(await backend.get(a.id)).toMatchObject({ state: "closed", closeCode: "timeout" });
            expect(ids(await drainClosed(backend))).toEqual([a.id]);
          }),
        timeout,
      );

      it(
        "never gives two open leases the same session",
        () =>
          withHarness({ capacity: 10 }, async (harness, backend) => {
            const added: bigint[] = [];
            for (let i = 0; i < 6; i++) added.push((await accepted(backend, conformanceSpec(i))).id);
            for (const id of added) await harness.endSession(id, "finAck");
            const [x, y] = await Promise.all([backend.takeClosed(3), backend.takeClosed(3)]);
            const xs = ids(x.sessions);
            const ys = ids(y.sessions);
            expect(xs.filter((id) => ys.includes(id))).toEqual([]);
            expect([...xs, ...ys].sort((p, q) => (p < q ? -1 : 1))).toEqual(added);
            const z = await backend.takeClosed(10);
            expect(z.sessions).toEqual([]);
            await z.settle([]);
            await y.settle([]);
            await x.settle(xs);
            expect(ids(await drainClosed(backend))).toEqual(ys);
          }),
        timeout,
      );

      it(
        "does not hand out live sessions, and respects max",
        () =>
          withHarness({ capacity: 10 }, async (harness, backend) => {
            const added: bigint[] = [];
            for (let i = 0; i < 5; i++) added.push((await accepted(backend, conformanceSpec(i))).id);
            for (const id of added.slice(0, 3)) await harness.endSession(id, "rst");
            const lease = await backend.takeClosed(1);
            expect(lease.sessions).toHaveLength(1);
            await lease.settle(ids(lease.sessions));
            const rest = await drainClosed(backend);
            expect(rest).toHaveLength(2);
            for (const s of [...lease.sessions, ...rest]) expect(added.slice(0, 3)).toContain(s.id);
          }),
        timeout,
      );
    });

    describe("stats (optional)", () => {
      it(
        "when the backend has stats(): its capacity, and closedPending through end, lease, settle and delete",
        () =>
          withHarness({ capacity: 7 }, async (harness, backend) => {
            if (backend.stats === undefined) return; // optional in the contract: nothing to check
            expect(await backend.stats()).toEqual({ capacity: 7, closedPending: 0 });
            // TCP and UDP sessions, live and ended.
            const protocols = ["tcp", "udp", "tcp", "udp"] as const;
            const added: bigint[] = [];
            for (const [i, protocol] of protocols.entries())
              added.push((await accepted(backend, conformanceSpec(i, { protocol }))).id);
            for (const id of added.slice(0, 3)) await harness.endSession(id, "timeout");
            // A live session with an idle timeout of its own (the second generation's cacheTimeout).
            await accepted(backend, conformanceSpec(9, { idleTimeoutMs: 3_600_000 }));
            expect(await backend.stats()).toEqual({ capacity: 7, closedPending: 3 });
            const lease = await backend.takeClosed(2);
            // Leased but not settled: still pending.
            expect((await backend.stats()).closedPending).toBe(3);
            await lease.settle(ids(lease.sessions).slice(0, 1));
            expect((await backend.stats()).closedPending).toBe(2);
            const left = ids(await collect(backend.sessions())).filter((id) => added.slice(0, 3).includes(id));
            for (const id of left) await backend.delete(id);
            expect(await backend.stats()).toEqual({ capacity: 7, closedPending: 0 });
            expect(await backend.size()).toBe(2);
          }),
        timeout,
      );
    });

    describe("concurrency", () => {
      it(
        `accepts ${concurrentAdds} concurrent adds with no lost or repeated id`,
        () =>
          withHarness({ capacity: concurrentAdds }, async (_h, backend) => {
            const results = await Promise.all(
              Array.from({ length: concurrentAdds }, (_, i) => backend.add(conformanceSpec(i))),
            );
            const got = new Set<bigint>();
            for (const result of results) {
              if (result.kind !== "accepted") throw new Error(`an add answered ${result.kind}`);
              got.add(result.session.id);
            }
            expect(got.size).toBe(concurrentAdds);
            expect(await backend.size()).toBe(concurrentAdds);
            const listed = ids(await collect(backend.sessions()));
            expectAscending(listed);
            expect(listed).toHaveLength(concurrentAdds);
            for (const id of listed) expect(got.has(id)).toBe(true);
            expect(await backend.add(conformanceSpec(concurrentAdds))).toEqual(TABLE_FULL);
          }),
        Math.max(timeout, 120_000),
      );

      it(
        "accepts exactly one of many concurrent adds of the same 7-tuple",
        () =>
          withHarness({ capacity: 10 }, async (_h, backend) => {
            const results = await Promise.all(Array.from({ length: 50 }, () => backend.add(conformanceSpec(7))));
            const winners = results.filter((r) => r.kind === "accepted");
            expect(winners).toHaveLength(1);
            const id = winners[0]?.kind === "accepted" ? winners[0].session.id : -1n;
            for (const r of results) if (r.kind !== "accepted") expect(r).toEqual({ kind: "alreadyExists", id });
            expect(await backend.size()).toBe(1);
          }),
        timeout,
      );
    });

    describe("64-bit values", () => {
      const firstId = TWO_53 - 5n;
      it(
        "keeps ids past 2^53 exact through add, get, sessions, takeClosed and delete",
        () =>
          withHarness({ capacity: 20, firstId }, async (harness, backend) => {
            const added: bigint[] = [];
            for (let i = 0; i < 10; i++) added.push((await accepted(backend, conformanceSpec(i))).id);
            expectAscending(added);
            expect(added[0]).toBeGreaterThanOrEqual(firstId);
            expect(added.some((id) => id > TWO_53 + 1n)).toBe(true);
            for (const id of added) expect((await backend.get(id))?.id).toBe(id);
            for (const id of added) expect(await backend.get(id + 1000n)).toBeUndefined();
            expect(ids(await collect(backend.sessions()))).toEqual(added);
            expect(ids(await collect(backend.sessions({ afterId: added[6] ?? 0n })))).toEqual(added.slice(7));
            expect(await backend.add(conformanceSpec(9))).toEqual(alreadyExists(added[9]));
            await harness.endSession(added[8] ?? 0n, "rst");
            expect(ids(await drainClosed(backend))).toEqual([added[8]]);
            expect((await backend.delete(added[9] ?? 0n))?.id).toBe(added[9]);
            expect(await backend.get(added[9] ?? 0n)).toBeUndefined();
          }),
        timeout,
      );

      it(
        "keeps counters past 2^53 exact, per direction, through get, delete and takeClosed",
        async () => {
          const probe = await factory({ capacity: 1 });
          const canCount = probe.addTraffic !== undefined;
          await probe.dispose();
          if (!canCount) return;
          await withHarness({ capacity: 10 }, async (harness, backend) => {
            const a = await accepted(backend, conformanceSpec(1));
            const b = await accepted(backend, conformanceSpec(2));
            const c = await accepted(backend, conformanceSpec(3));
            const delta: TrafficDelta = {
              inPackets: TWO_53 + 1n,
              outPackets: TWO_53 + 3n,
              inBytes: (TWO_53 + 5n) * 3n,
              outBytes: 2n ** 62n + 7n,
            };
            const twice: TrafficDelta = {
              inPackets: delta.inPackets * 2n,
              outPackets: delta.outPackets * 2n,
              inBytes: delta.inBytes * 2n,
              outBytes: delta.outBytes * 2n,
            };
            for (const s of [a, b, c]) {
              await traffic(harness, s.id, delta);
              await traffic(harness, s.id, delta);
            }
            expect(await backend.get(a.id)).toMatchObject(twice);
            expect(await backend.delete(b.id)).toMatchObject(twice);
            await harness.endSession(c.id, "finAck");
            const closed = await drainClosed(backend);
            expect(closed).toHaveLength(1);
            expect(closed[0]).toMatchObject(twice);
            expect((await collect(backend.sessions()))[0]).toMatchObject(twice);
          });
        },
        timeout,
      );
    });

    describe("options", () => {
      const bad: ReadonlyArray<[string, HarnessOptions, RegExp]> = [
        ["capacity 0", { capacity: 0 }, /capacity/i],
        ["a negative capacity", { capacity: -1 }, /capacity/i],
        ["a fractional capacity", { capacity: 1.5 }, /capacity/i],
        ["a NaN capacity", { capacity: Number.NaN }, /capacity/i],
        ["firstId 0", { capacity: 10, firstId: 0n }, /firstId/i],
        ["firstId past 2^64-1", { capacity: 10, firstId: UINT64_MAX + 1n }, /firstId/i],
      ];
      it.each(bad)(
        "rejects %s with an error naming the option",
        async (_what, harnessOptions, pattern) => {
          let harness: ConformanceHarness | undefined;
          try {
            harness = await factory(harnessOptions);
          } catch (err) {
            expect(err).toBeInstanceOf(Error);
            expect((err as Error).message).toMatch(pattern);
            return;
          }
          await harness.dispose();
          throw new Error(
            `the factory accepted ${JSON.stringify(harnessOptions, (_k, v) => (typeof v === "bigint" ? `${v}n` : v))}`,
          );
        },
        timeout,
      );
    });
  });
}

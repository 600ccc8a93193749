import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { UINT64_MAX, type CloseCode, type Session } from "@sessionoffload/offload-api";
import { createMemorySwitch, type MemorySwitch } from "@sessionoffload/switch-backend";
import { conformanceSpec } from "@sessionoffload/switch-backend/conformance";

type EndCode = Exclude<CloseCode, "notClosed">;

type Op =
  | { readonly op: "add"; readonly tuple: number }
  | { readonly op: "delete"; readonly pick: number }
  | { readonly op: "end"; readonly pick: number; readonly code: EndCode }
  | { readonly op: "take"; readonly max: number }
  | { readonly op: "settle"; readonly pick: number; readonly mask: number }
  | { readonly op: "traffic"; readonly pick: number; readonly packets: bigint };

/** The reference model: plain maps, no cleverness. */
interface ModelEntry {
  readonly tuple: number;
  ended: boolean;
  leased: boolean;
  inPackets: bigint;
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant("add" as const), tuple: fc.integer({ min: 0, max: 9 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("delete" as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("end" as const),
      pick: fc.nat(),
      code: fc.constantFrom<EndCode>("finAck", "rst", "timeout"),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("take" as const), max: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("settle" as const), pick: fc.nat(), mask: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("traffic" as const),
      pick: fc.nat(),
      packets: fc.bigInt({ min: 0n, max: 2n ** 60n }),
    }),
  },
);

function pick<T>(list: readonly T[], n: number): T | undefined {
  return list.length === 0 ? undefined : list[n % list.length];
}

function run(capacity: number, firstId: bigint, ops: readonly Op[]): void {
  const sw: MemorySwitch = createMemorySwitch({ capacity, firstId, traffic: false, tickIntervalMs: 0 });
  const model = new Map<bigint, ModelEntry>();
  const leases: { sessions: readonly Session[]; settle(ids: readonly bigint[]): void }[] = [];
  let nextId = firstId;
  try {
    for (const op of ops) {
      const ids = [...model.keys()];
      switch (op.op) {
        case "add": {
          const live = [...model].find(([, e]) => !e.ended && e.tuple === op.tuple);
          if (live !== undefined) {
            expect(sw.add(conformanceSpec(op.tuple))).toEqual({ kind: "alreadyExists", id: live[0] });
          } else if (model.size >= capacity) {
            expect(sw.add(conformanceSpec(op.tuple))).toEqual({ kind: "tableFull" });
          } else if (nextId > UINT64_MAX) {
            expect(() => sw.add(conformanceSpec(op.tuple))).toThrow(/id space exhausted/);
          } else {
            const result = sw.add(conformanceSpec(op.tuple));
            expect(result).toMatchObject({ kind: "accepted", session: { id: nextId, state: "established" } });
            model.set(nextId, { tuple: op.tuple, ended: false, leased: false, inPackets: 0n });
            nextId++;
          }
          break;
        }
        case "delete": {
          const id = pick(ids, op.pick) ?? nextId + 7n;
          const deleted = sw.delete(id);
          if (model.has(id)) expect(deleted).toMatchObject({ id, state: "closing1" });
          else expect(deleted).toBeUndefined();
          model.delete(id);
          break;
        }
        case "end": {
          const live = ids.filter((id) => model.get(id)?.ended === false);
          const id = pick(live, op.pick);
          if (id === undefined) break;
          sw.endSession(id, op.code);
          const entry = model.get(id);
          if (entry) entry.ended = true;
          break;
        }
        case "traffic": {
          const live = ids.filter((id) => model.get(id)?.ended === false);
          const id = pick(live, op.pick);
          if (id === undefined) break;
          sw.addTraffic(id, { inPackets: op.packets, outPackets: 0n, inBytes: 0n, outBytes: 0n });
          const entry = model.get(id);
          if (entry) entry.inPackets += op.packets;
          break;
        }
        case "take": {
          const available = [...model].filter(([, e]) => e.ended && !e.leased).map(([id]) => id);
          const lease = sw.takeClosed(op.max);
          const got = lease.sessions.map((s) => s.id);
          expect(got).toHaveLength(Math.min(op.max, available.length));
          for (let i = 1; i < got.length; i++) expect((got[i] ?? 0n) > (got[i - 1] ?? 0n)).toBe(true);
          for (const session of lease.sessions) {
            expect(available).toContain(session.id);
            expect(session.state).toBe("closed");
            const entry = model.get(session.id);
            if (entry) entry.leased = true;
          }
          leases.push(lease);
          break;
        }
        case "settle": {
          const index = leases.length === 0 ? -1 : op.pick % leases.length;
          const lease = leases[index];
          if (lease === undefined) break;
          leases.splice(index, 1);
          const delivered = lease.sessions.map((s) => s.id).filter((_, i) => (op.mask >> i) & 1);
          lease.settle(delivered);
          for (const session of lease.sessions) {
            const entry = model.get(session.id);
            if (entry === undefined) continue; // deleted while leased
            if (delivered.includes(session.id)) model.delete(session.id);
            else entry.leased = false;
          }
          break;
        }
      }
      // Invariants after every step.
      expect(sw.size()).toBe(model.size);
      const listed = [...sw.sessions()];
      expect(listed.map((s) => s.id)).toEqual([...model.keys()]);
      for (const session of listed) {
        const entry = model.get(session.id);
        expect(session.state === "closed").toBe(entry?.ended);
        expect(session.inPackets).toBe(entry?.inPackets);
      }
    }
    // Nothing is lost: every ended session not yet collected is eventually delivered exactly once.
    for (const lease of leases.splice(0)) lease.settle([]);
    const delivered: bigint[] = [];
    for (let lease = sw.takeClosed(3); lease.sessions.length > 0; lease = sw.takeClosed(3)) {
      const got = lease.sessions.map((s) => s.id);
      delivered.push(...got);
      lease.settle(got);
    }
    const ended = [...model].filter(([, e]) => e.ended).map(([id]) => id);
    expect([...delivered].sort((a, b) => (a < b ? -1 : 1))).toEqual(ended);
    expect(sw.size()).toBe(model.size - ended.length);
  } finally {
    sw.close();
  }
}

describe("memory switch against a reference model", () => {
  it("keeps size, ids, duplicates, capacity and closed delivery in step with plain maps", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom(1n, 2n ** 53n - 3n, UINT64_MAX - 30n),
        fc.array(opArb, { maxLength: 80 }),
        (capacity, firstId, ops) => run(capacity, firstId, ops),
      ),
      { numRuns: 300 },
    );
  });
});

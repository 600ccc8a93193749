import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { UINT64_MAX } from "@sessionoffload/offload-api";
import { createMemorySwitch } from "@sessionoffload/switch-backend";
import { conformanceSpec } from "@sessionoffload/switch-backend/conformance";
import { createDeadlineHeap } from "../src/memory-switch/deadline-heap";

/**
 * Client-assigned ids in any order against a plain sorted model: the memory
 * switch's id order (two-level chunks that split and merge) must list every
 * id once, ascending, seek by afterId, and walk a table that changes under
 * the walk without skips or repeats of the ids that stay.
 */
type Op =
  | { readonly op: "add"; readonly id: bigint }
  | { readonly op: "delete"; readonly pick: number }
  | { readonly op: "walk"; readonly after: bigint; readonly steps: number; readonly addDuring: bigint };

// Ids clustered (so that chunks fill, split and merge) and spread over the whole 64-bit range.
const idArb = fc.oneof(
  fc.bigInt({ min: 1n, max: 3000n }),
  fc.bigInt({ min: 1n, max: UINT64_MAX }),
  fc.constantFrom(1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n + 1n, UINT64_MAX),
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant("add" as const), id: idArb }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("delete" as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("walk" as const),
      after: fc.oneof(fc.constant(0n), idArb),
      steps: fc.integer({ min: 1, max: 50 }),
      addDuring: idArb,
    }),
  },
);

const sorted = (ids: Iterable<bigint>) => [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

describe("memory switch with client ids in any order (property)", () => {
  it("lists, seeks and walks like a sorted set", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 2500 }), (ops) => {
        const sw = createMemorySwitch({ capacity: 5000, traffic: false, tickIntervalMs: 0 });
        const model = new Set<bigint>();
        let n = 0;
        try {
          for (const o of ops) {
            if (o.op === "add") {
              const result = sw.add(conformanceSpec(n++), { id: o.id });
              expect(result.kind).toBe(model.has(o.id) ? "alreadyExists" : "accepted");
              model.add(o.id);
            } else if (o.op === "delete") {
              const ids = sorted(model);
              const id = ids[o.pick % Math.max(ids.length, 1)];
              if (id === undefined) continue;
              expect(sw.delete(id)?.id).toBe(id);
              model.delete(id);
            } else {
              // A walk from `after` that adds and deletes under it.
              const before = sorted(model).filter((id) => id > o.after);
              const seen: bigint[] = [];
              const deleted = new Set<bigint>();
              for (const s of sw.sessions({ afterId: o.after })) {
                seen.push(s.id);
                if (seen.length >= o.steps) break;
                if (!model.has(o.addDuring)) {
                  sw.add(conformanceSpec(n++), { id: o.addDuring });
                  model.add(o.addDuring);
                }
                const victim = before[(seen.length * 7) % Math.max(before.length, 1)];
                if (victim !== undefined && model.has(victim) && victim !== s.id) {
                  sw.delete(victim);
                  model.delete(victim);
                  deleted.add(victim);
                }
              }
              expect(new Set(seen).size).toBe(seen.length);
              for (let i = 1; i < seen.length; i++) expect(seen[i]! > seen[i - 1]!).toBe(true);
              // Every id that stayed and lies within the stretch walked was seen.
              const last = seen[seen.length - 1];
              if (last !== undefined) {
                for (const id of before) if (id <= last && !deleted.has(id)) expect(seen).toContain(id);
              }
            }
          }
          const all = sorted(model);
          expect([...sw.sessions()].map((s) => s.id)).toEqual(all);
          const mid = all[Math.floor(all.length / 2)];
          if (mid !== undefined) {
            expect([...sw.sessions({ afterId: mid })].map((s) => s.id)).toEqual(all.filter((id) => id > mid));
          }
          for (const id of all.slice(0, 20)) expect(sw.get(id)?.id).toBe(id);
          expect(sw.size()).toBe(model.size);
        } finally {
          sw.close();
        }
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});

describe("memory switch with clients counting up in interleaved ranges (property)", () => {
  // Several counters whose runs interleave (as concurrent batched adds do): most inserts go right after the
  // previous one (the order's insert hint), some land between other ranges' ids, chunks fill and split.
  const stepArb = fc.oneof(
    {
      weight: 10,
      arbitrary: fc.record({ op: fc.constant("add" as const), range: fc.nat({ max: 3 }), gap: fc.nat({ max: 3 }) }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("delete" as const), pick: fc.nat() }) },
  );
  it("lists every id once, ascending, whatever the interleaving", () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 3000 }), fc.nat({ max: 2000 }), (steps, spread) => {
        const sw = createMemorySwitch({ capacity: 5000, traffic: false, tickIntervalMs: 0 });
        const next = [1n, 2n + BigInt(spread), 3n + 2n * BigInt(spread), 2n ** 32n + BigInt(spread)];
        const model = new Set<bigint>();
        let n = 0;
        try {
          for (const s of steps) {
            if (s.op === "add") {
              const id = next[s.range]! + BigInt(s.gap);
              next[s.range] = id + 1n;
              const result = sw.add(conformanceSpec(n++), { id });
              expect(result.kind).toBe(model.has(id) ? "alreadyExists" : "accepted");
              model.add(id);
            } else {
              const ids = sorted(model);
              const id = ids[s.pick % Math.max(ids.length, 1)];
              if (id === undefined) continue;
              expect(sw.delete(id)?.id).toBe(id);
              model.delete(id);
            }
          }
          expect([...sw.sessions()].map((x) => x.id)).toEqual(sorted(model));
        } finally {
          sw.close();
        }
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});

describe("deadline heap (property)", () => {
  it("pops in deadline order, and compaction keeps exactly what it is told to", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1e6 }), fc.nat({ max: 1000 })), { maxLength: 500 }),
        fc.nat({ max: 7 }),
        (entries, dropMod) => {
          const heap = createDeadlineHeap();
          entries.forEach(([deadline, slot], i) => heap.push(deadline, slot, i));
          const keep = (slot: number, serial: number) => dropMod === 0 || (slot + serial) % (dropMod + 1) !== 0;
          heap.compact(keep);
          const expected = entries
            .map(([deadline, slot], i) => ({ deadline, slot, serial: i }))
            .filter((e) => keep(e.slot, e.serial))
            .map((e) => e.deadline)
            .sort((a, b) => a - b);
          const popped: number[] = [];
          while (heap.size > 0) {
            popped.push(heap.peekDeadline());
            heap.pop();
          }
          expect(popped).toEqual(expected);
          expect(heap.peekDeadline()).toBe(Infinity);
        },
      ),
    );
  });
});

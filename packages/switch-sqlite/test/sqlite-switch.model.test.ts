import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import path from "node:path";
import fc from "fast-check";
import type { CloseCode } from "@sessionoffload/offload-api";
import { createFakeClock, createMemorySwitch } from "@sessionoffload/switch-backend";
import { createSqliteSwitch } from "../src";
import { makeTempDir, removeTempDir, specFor } from "./fixtures/sqlite-helpers";

type EndCode = Exclude<CloseCode, "notClosed">;
type Op =
  | { readonly op: "add"; readonly n: number; readonly udp: boolean }
  | { readonly op: "delete"; readonly pick: number }
  | { readonly op: "end"; readonly pick: number; readonly code: EndCode }
  | { readonly op: "fin"; readonly pick: number }
  | { readonly op: "traffic"; readonly pick: number; readonly packets: number }
  | { readonly op: "advance"; readonly ms: number }
  | { readonly op: "take"; readonly deliver: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant("add" as const), n: fc.nat(12), udp: fc.boolean() }), weight: 4 },
  fc.record({ op: fc.constant("delete" as const), pick: fc.nat(30) }),
  fc.record({
    op: fc.constant("end" as const),
    pick: fc.nat(30),
    code: fc.constantFrom<EndCode>("finAck", "rst", "timeout"),
  }),
  fc.record({ op: fc.constant("fin" as const), pick: fc.nat(30) }),
  fc.record({ op: fc.constant("traffic" as const), pick: fc.nat(30), packets: fc.nat(1000) }),
  // Round steps land exactly on the idle timeouts (2000 and 5000 ms), where off-by-one errors show.
  fc.record({
    op: fc.constant("advance" as const),
    ms: fc.oneof(fc.constantFrom(500, 1000, 2000), fc.integer({ min: 0, max: 3000 })),
  }),
  // Takes every closed session: which ones a partial take picks is each switch's policy (oldest-ended first in
  // both, but ties at one clock reading are broken differently), covered by the unit and conformance tests.
  fc.record({ op: fc.constant("take" as const), deliver: fc.nat(4) }),
);

/** Runs `body`, answering its result or the message of what it threw, so that both switches' failures compare too. */
function outcome<T>(body: () => T): T | { threw: string } {
  try {
    return body();
  } catch (err) {
    return { threw: err instanceof Error ? err.constructor.name : "non-error" };
  }
}

describe("the SQLite switch behaves as the memory switch (model-based)", () => {
  let dir = "";
  let runs = 0;
  beforeAll(() => {
    dir = makeTempDir();
  });
  afterAll(() => removeTempDir(dir));

  it("answers every random sequence of operations the same, times included", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 20, maxLength: 80, size: "max" }), async (ops) => {
        const clock = createFakeClock();
        const common = {
          capacity: 8,
          clock,
          traffic: false,
          tickIntervalMs: 0,
          tcpIdleTimeoutMs: 5000,
          udpIdleTimeoutMs: 2000,
        };
        const memory = createMemorySwitch(common);
        runs += 1;
        const sqlite = createSqliteSwitch({ ...common, path: path.join(dir, `model-${runs}.db`) });
        try {
          for (const op of ops) {
            const ids = [...memory.sessions()].map((s) => s.id);
            const pick = (n: number): bigint => ids[n % Math.max(ids.length, 1)] ?? 999n;
            switch (op.op) {
              case "add": {
                const spec = specFor(op.n, op.udp ? "udp" : "tcp");
                expect(await sqlite.add(spec)).toEqual(memory.add(spec));
                break;
              }
              case "delete":
                expect(await sqlite.delete(pick(op.pick))).toEqual(memory.delete(pick(op.pick)));
                break;
              case "end":
              case "fin": {
                const id = pick(op.pick);
                const before = memory.get(id);
                const live = before !== undefined && before.endTime === undefined;
                const m = outcome(() => (op.op === "end" ? memory.endSession(id, op.code) : memory.finStep(id)));
                const s = outcome(() => (op.op === "end" ? sqlite.endSession(id, op.code) : sqlite.finStep(id)));
                if (!live) {
                  // An unknown or ended id: the memory switch throws, the SQLite switch answers false/undefined.
                  expect(s).toBe(op.op === "end" ? false : undefined);
                } else if (op.op === "end") {
                  expect(s).toEqual(m === undefined ? true : m); // true, or the same RangeError (UDP by FIN/RST)
                } else {
                  expect(s).toEqual(m); // the new state, or the same RangeError (UDP)
                }
                break;
              }
              case "traffic": {
                const id = pick(op.pick);
                const delta = {
                  inPackets: BigInt(op.packets),
                  outPackets: 1n,
                  inBytes: BigInt(op.packets * 100),
                  outBytes: 60n,
                };
                const m = outcome(() => memory.addTraffic(id, delta));
                const s = outcome(() => sqlite.addTraffic(id, delta));
                expect(s).toBe(m === undefined);
                break;
              }
              case "advance":
                clock.advance(op.ms);
                memory.step();
                sqlite.step();
                break;
              case "take": {
                const m = memory.takeClosed(64);
                const s = sqlite.takeClosed(64);
                expect(s.sessions).toEqual(m.sessions);
                const delivered = m.sessions.slice(0, op.deliver).map((x) => x.id);
                m.settle(delivered);
                s.settle(delivered);
                break;
              }
            }
            expect(sqlite.size()).toBe(memory.size());
          }
          expect([...sqlite.sessions()]).toEqual([...memory.sessions()]);
        } finally {
          memory.close();
          sqlite.close();
        }
      }),
      { numRuns: 60, seed: 20261124 },
    );
  });
});

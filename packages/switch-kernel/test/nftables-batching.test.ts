import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { parseAddress } from "@sessionoffload/offload-api";
import { coalesceCommands } from "../src/coalesce-commands";
import { createFlowHasher, jhash } from "../src/flow-hash";
import type { NftCommand } from "../src/nft-runner";

// Pure parts of the nftables switch that need no kernel: batch coalescing and the flow hash.

type Op = { kind: "add" | "delete"; set: string; key: number } | { kind: "chain"; name: string };

function toCommand(op: Op): NftCommand {
  if (op.kind === "chain") return { add: { chain: { family: "ip", table: "t", name: op.name } } };
  const entry = op.set === "m" ? [{ concat: ["192.0.2.1", op.key] }, { jump: { target: "v" } }] : { concat: [op.key] };
  return { [op.kind]: { element: { family: "ip", table: "t", name: op.set, elem: [entry] } } };
}

/** Applies commands the way one nft transaction would: a missing delete or a duplicate chain fails it all. */
function apply(commands: readonly NftCommand[]): { ok: boolean; state: string[] } {
  const state = new Set<string>();
  for (const c of commands) {
    const [op, body] = Object.entries(c)[0] as [string, Record<string, Record<string, unknown>>];
    if (body["chain"] !== undefined) {
      const name = `chain ${String(body["chain"]["name"])}`;
      if (state.has(name)) return { ok: false, state: [] };
      state.add(name);
      continue;
    }
    const el = body["element"] as { name: string; elem: unknown[] };
    for (const entry of el.elem) {
      const key = `${el.name} ${JSON.stringify(Array.isArray(entry) ? entry[0] : entry)}`;
      if (op === "add") state.add(key);
      else if (!state.delete(key)) return { ok: false, state: [] };
    }
  }
  return { ok: true, state: [...state].sort() };
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constantFrom("add" as const, "delete" as const),
      set: fc.constantFrom("m", "fin", "rst"),
      key: fc.integer({ min: 1, max: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("chain" as const), name: fc.constantFrom("a", "b", "c") }) },
);

describe("coalesceCommands", () => {
  it("merges element commands into one per set and operation", () => {
    const ops: Op[] = [];
    for (let k = 1; k <= 50; k++) ops.push({ kind: "add", set: "m", key: k }, { kind: "add", set: "m", key: 100 + k });
    const out = coalesceCommands(ops.map(toCommand));
    expect(out).toHaveLength(1);
    expect((out[0] as { add: { element: { elem: unknown[] } } }).add.element.elem).toHaveLength(100);
  });

  it("keeps each element's commands in order (add before delete) and a barrier before what follows it", () => {
    const ops: Op[] = [
      { kind: "add", set: "fin", key: 1 },
      { kind: "add", set: "fin", key: 2 },
      { kind: "delete", set: "fin", key: 1 },
      { kind: "delete", set: "fin", key: 2 },
      { kind: "chain", name: "a" },
      { kind: "add", set: "m", key: 1 },
    ];
    expect(coalesceCommands(ops.map(toCommand))).toEqual([
      { add: { element: { family: "ip", table: "t", name: "fin", elem: [{ concat: [1] }, { concat: [2] }] } } },
      { delete: { element: { family: "ip", table: "t", name: "fin", elem: [{ concat: [1] }, { concat: [2] }] } } },
      toCommand({ kind: "chain", name: "a" }),
      toCommand({ kind: "add", set: "m", key: 1 }),
    ]);
  });

  it("has the same effect as the batch it rewrites, for any batch", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const commands = ops.map(toCommand);
        const coalesced = coalesceCommands(commands);
        expect(apply(coalesced)).toEqual(apply(commands));
        expect(coalesced.length).toBeLessThanOrEqual(commands.length);
      }),
      { numRuns: 500 },
    );
  });
});

describe("the flow hash matches the kernel's jhash", () => {
  // Values the kernel computed (nft 1.0.6, Linux 6.x, x86-64): `meta mark set jhash ip saddr . ip daddr .
  // th sport . th dport mod 64 seed 0x1234` on UDP 192.0.2.9:4100N -> 192.0.2.9:5000, and the same for
  // 2001:db8::9, recorded with a dynamic set.
  const kernelV4 = [27, 15, 24, 40, 41, 8, 4, 26];
  const kernelV6 = [43, 49, 16, 34, 6, 16, 42, 15];

  it("gives the shards the kernel gave for IPv4 and IPv6 flows", () => {
    const shard = createFlowHasher(64, 0x1234);
    const a4 = parseAddress("192.0.2.9").bytes;
    const a6 = parseAddress("2001:db8::9").bytes;
    expect(kernelV4.map((_, i) => shard(a4, a4, 41000 + i, 5000))).toEqual(kernelV4);
    expect(kernelV6.map((_, i) => shard(a6, a6, 41000 + i, 5000))).toEqual(kernelV6);
  });

  it("is lookup3's hashlittle on short keys (reference values)", () => {
    // Bob Jenkins' lookup3.c driver: hashlittle("", 0, 0) = 0xdeadbeef; hashlittle("Four score and seven years ago", 30, 0) = 0x17770551.
    expect(jhash(new Uint8Array(0), 0)).toBe(0xdeadbeef);
    expect(jhash(Buffer.from("Four score and seven years ago"), 0)).toBe(0x17770551);
    expect(jhash(Buffer.from("Four score and seven years ago"), 1)).toBe(0xcd628161);
  });

  it("puts every flow in one shard of 1", () => {
    const a4 = parseAddress("192.0.2.9").bytes;
    expect(createFlowHasher(1, 7)(a4, a4, 1, 2)).toBe(0);
  });
});

import { afterEach, describe, expect, it } from "@jest/globals";
import { UINT64_MAX, ValidationError } from "@sessionoffload/offload-api";
import {
  createMemorySwitch,
  SwitchOptionError,
  type MemorySwitch,
  type MemorySwitchOptions,
} from "@sessionoffload/switch-backend";
import { conformanceSpec } from "@sessionoffload/switch-backend/conformance";

const opened: MemorySwitch[] = [];

function open(options: MemorySwitchOptions = {}): MemorySwitch {
  const sw = createMemorySwitch({ tickIntervalMs: 0, traffic: false, ...options });
  opened.push(sw);
  return sw;
}

afterEach(() => {
  for (const sw of opened.splice(0)) sw.close();
});

function accept(sw: MemorySwitch, n: number): bigint {
  const result = sw.add(conformanceSpec(n));
  if (result.kind !== "accepted") throw new Error(result.kind);
  return result.session.id;
}

describe("memory switch table", () => {
  it("fails with a clear error instead of wrapping when ids would pass 2^64-1", () => {
    const sw = open({ firstId: UINT64_MAX - 1n });
    expect(accept(sw, 1)).toBe(UINT64_MAX - 1n);
    expect(accept(sw, 2)).toBe(UINT64_MAX);
    expect(() => sw.add(conformanceSpec(3))).toThrow(/id space exhausted.*2\^64-1/);
    expect(sw.add(conformanceSpec(2))).toEqual({ kind: "alreadyExists", id: UINT64_MAX });
    expect(sw.size()).toBe(2);
  });

  it("copies address bytes: the caller may reuse its buffers", () => {
    const sw = open();
    const src = Buffer.from([10, 0, 0, 1]);
    const dst = Buffer.from([10, 0, 0, 2]);
    const spec = { ...conformanceSpec(0), sourceIp: src.subarray(0, 4), destinationIp: dst };
    const first = sw.add(spec);
    src[3] = 99;
    dst[3] = 98;
    expect(sw.add(spec).kind).toBe("accepted");
    src[3] = 1;
    dst[3] = 2;
    expect(sw.add(spec)).toEqual({ kind: "alreadyExists", id: first.kind === "accepted" ? first.session.id : 0n });
  });

  it("counts each session's lifs: a lif string stays known while any session uses it", () => {
    const sw = open();
    const base = { ...conformanceSpec(0), inLif: "a", outLif: "b" };
    const first = sw.add(base);
    const second = sw.add({ ...base, sourcePort: base.sourcePort + 1 });
    if (first.kind !== "accepted" || second.kind !== "accepted") throw new Error("not accepted");
    sw.delete(first.session.id);
    // "a" and "b" are still the second session's: new lifs must not take their places in the 7-tuple.
    expect(sw.add({ ...base, sourcePort: base.sourcePort + 1, inLif: "x", outLif: "y" }).kind).toBe("accepted");
    expect(sw.add({ ...base, sourcePort: base.sourcePort + 1 })).toEqual({
      kind: "alreadyExists",
      id: second.session.id,
    });
  });

  it("finds duplicates through growth and many deletions (index probing and backward shifts)", () => {
    const sw = open({ capacity: 20_000 });
    const ids = Array.from({ length: 5000 }, (_, i) => accept(sw, i));
    for (let i = 0; i < 5000; i++) expect(sw.add(conformanceSpec(i))).toEqual({ kind: "alreadyExists", id: ids[i] });
    for (let i = 0; i < 5000; i += 2) sw.delete(ids[i] ?? 0n);
    for (let i = 1; i < 5000; i += 6) sw.endSession(ids[i] ?? 0n, "rst");
    for (let i = 0; i < 5000; i++) {
      const result = sw.add(conformanceSpec(i));
      const live = i % 2 === 1 && i % 6 !== 1;
      if (live) expect(result).toEqual({ kind: "alreadyExists", id: ids[i] });
      else expect(result.kind).toBe("accepted");
    }
  });

  it("keeps ascending order and afterId seeks across log compaction", () => {
    const sw = open({ capacity: 10_000 });
    const ids: bigint[] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 1000; i++) ids.push(accept(sw, round * 1000 + i));
      for (let i = ids.length - 1000; i < ids.length; i++) if (i % 4 !== 0) sw.delete(ids[i] ?? 0n);
    }
    const kept = ids.filter((_, i) => i % 4 === 0);
    const iterator = sw.sessions()[Symbol.iterator]();
    const seen: bigint[] = [];
    for (let i = 0; i < 10; i++) seen.push(iterator.next().value?.id ?? -1n);
    // Many adds and deletes force compactions while the iterator is suspended.
    for (let i = 0; i < 3000; i++) sw.delete(accept(sw, 100_000 + i));
    for (let r = iterator.next(); !r.done; r = iterator.next()) seen.push(r.value.id);
    expect(seen).toEqual(kept);
    expect([...sw.sessions({ afterId: kept[100] ?? 0n })].map((s) => s.id)).toEqual(kept.slice(101));
  });

  it("rejects a malformed spec naming the field, and adds nothing", () => {
    const sw = open();
    const cases: [string, Parameters<typeof conformanceSpec>[1]][] = [
      ["sourceIp", { sourceIp: Uint8Array.of(1, 2, 3) }],
      ["destinationIp", { ipVersion: "ipv6", sourceIp: new Uint8Array(16) }],
      ["sourcePort", { sourcePort: 0 }],
      ["destinationPort", { destinationPort: 70_000 }],
    ];
    for (const [field, change] of cases) {
      let error: unknown;
      try {
        sw.add(conformanceSpec(1, change));
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe(field);
    }
    expect(sw.size()).toBe(0);
  });

  it.each<[string, MemorySwitchOptions]>([
    ["capacity", { capacity: 0 }],
    ["tcpIdleTimeoutMs", { tcpIdleTimeoutMs: 0 }],
    ["udpIdleTimeoutMs", { udpIdleTimeoutMs: -5 }],
    ["tickIntervalMs", { tickIntervalMs: 0.5 }],
    ["seed", { seed: 1.5 }],
    ["firstId", { firstId: 0n }],
    ["traffic.finProbability", { traffic: { finProbability: 2 } }],
    ["traffic.samplesPerTick", { traffic: { samplesPerTick: -1 } }],
    ["traffic.maxPacketBytes", { traffic: { minPacketBytes: 100, maxPacketBytes: 99 } }],
  ])("rejects a bad %s with a SwitchOptionError naming it", (option, options) => {
    let error: unknown;
    try {
      createMemorySwitch({ tickIntervalMs: 0, ...options });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SwitchOptionError);
    expect((error as SwitchOptionError).option).toBe(option);
    expect((error as Error).message).toMatch(new RegExp(`^${option.replace(".", "\\.")}: `));
  });

  it("rejects takeClosed with max < 1 and a second settle of one lease", () => {
    const sw = open();
    expect(() => sw.takeClosed(0)).toThrow(/max/);
    const lease = sw.takeClosed(1);
    lease.settle([]);
    expect(() => lease.settle([])).toThrow(/already settled/);
  });
});

import { describe, expect, it } from "@jest/globals";
import { ValidationError, type SessionSpec } from "@sessionoffload/offload-api";
import { createIdOrder } from "../src/id-order";
import { idOfLabels, serialAndSlotOfLabels, sessionLabels } from "../src/labels";
import { sessionMark, tableScript, verdictScript } from "../src/ruleset";
import { checkKernelSpec, reverseKey, sessionTuple, tupleKey, tupleOfKey, verdictOf } from "../src/session-tuple";
import { kernelTimeoutFor } from "../src/sysctls";

// The kernel switch's pure parts (no root needed): the nft text it loads, the keys it finds entries by, the
// labels, the id order.

function spec(over: Partial<SessionSpec> = {}): SessionSpec {
  return {
    inLif: "",
    outLif: "",
    ipVersion: "ipv4",
    sourceIp: Uint8Array.of(192, 0, 2, 2),
    sourcePort: 40000,
    destinationIp: Uint8Array.of(198, 51, 100, 2),
    destinationPort: 443,
    protocol: "tcp",
    action: "forward",
    nextHop: "",
    ...over,
  };
}

describe("ruleset", () => {
  it("a table sends marked entries' packets to their verdict chain and leaves every other packet alone", () => {
    const text = tableScript("ip", "so");
    expect(text).toContain("type filter hook forward priority 0; policy accept; ct mark vmap @verdicts;");
    expect(text).toContain("ct label 127");
  });

  it("a verdict chain checks the interfaces each way, duplicates for MIRROR, then accepts or drops", () => {
    const mark = sessionMark(0x5e00_0000, 3);
    expect(mark).toBe(0x5e00_0003);
    const v = verdictOf(spec({ action: "mirror", nextHop: "203.0.113.9", inLif: "toc", outLif: "tov" }));
    expect(verdictScript("so", 3, mark, v).split("\n")).toEqual([
      "add chain ip so v3",
      'add rule ip so v3 ct direction original iifname != "toc" return',
      'add rule ip so v3 ct direction reply oifname != "toc" return',
      'add rule ip so v3 ct direction original oifname != "tov" return',
      'add rule ip so v3 ct direction reply iifname != "tov" return',
      "add rule ip so v3 dup to 203.0.113.9",
      "add rule ip so v3 accept",
      "add element ip so verdicts { 0x5e000003 : jump v3 }",
    ]);
    expect(
      verdictScript(
        "so",
        4,
        mark + 1,
        verdictOf(
          spec({ action: "drop", ipVersion: "ipv6", sourceIp: new Uint8Array(16), destinationIp: new Uint8Array(16) }),
        ),
      ),
    ).toBe(
      ["add chain ip6 so v4", "add rule ip6 so v4 drop", "add element ip6 so verdicts { 0x5e000004 : jump v4 }"].join(
        "\n",
      ),
    );
  });
});

describe("session keys", () => {
  it("a session's tuple key is its reply's reverse key, and gives the tuple back", () => {
    const a = sessionTuple(spec());
    const back = sessionTuple(
      spec({
        sourceIp: Uint8Array.of(198, 51, 100, 2),
        sourcePort: 443,
        destinationIp: Uint8Array.of(192, 0, 2, 2),
        destinationPort: 40000,
      }),
    );
    expect(tupleKey(a)).toBe(reverseKey(back));
    expect(tupleKey(a)).not.toBe(tupleKey(back));
    expect(a).toMatchObject({ family: 4, protocol: 6, srcPort: 40000, dstPort: 443 });
    expect(tupleOfKey(tupleKey(a))).toEqual(a);
    expect(tupleOfKey(reverseKey(back))).toEqual(a);
    const v6 = sessionTuple(
      spec({
        ipVersion: "ipv6",
        protocol: "udp",
        sourceIp: Uint8Array.from({ length: 16 }, (_, i) => 0xf0 + i - 2 * i),
        destinationIp: Uint8Array.from({ length: 16 }, (_, i) => i * 17),
        sourcePort: 65535,
        destinationPort: 1,
      }),
    );
    expect(tupleOfKey(tupleKey(v6))).toEqual(v6);
    expect(tupleKey(v6)).not.toBe(tupleKey(a));
    expect(tupleOfKey(reverseKey(v6))).toEqual({ ...v6, src: v6.dst, dst: v6.src, srcPort: 1, dstPort: 65535 });
  });

  it("the tuple holds copies of the addresses", () => {
    const s = spec();
    const t = sessionTuple(s);
    (s.sourceIp as Uint8Array)[3] = 99;
    expect(Array.from(t.src)).toEqual([192, 0, 2, 2]);
  });

  it.each([
    ["inLif", { inLif: "a-name-that-is-too-long" }],
    ["inLif", { inLif: "a\u0000b" }],
    ["outLif", { outLif: "eth 0" }],
    ["action.actionNextHop", { action: "mirror", nextHop: "2001:db8::9" }],
  ] as const)("refuses a spec the kernel cannot hold, naming %s", (field, over) => {
    let thrown: unknown;
    try {
      checkKernelSpec(spec(over));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ValidationError);
    expect(String((thrown as Error).message)).toContain(field);
  });
});

describe("labels, kernel timeout, id order", () => {
  it("labels carry the session id, big-endian, in the first 8 bytes", () => {
    const labels = sessionLabels(0x0102_0304_0506_0708n);
    expect(Array.from(labels.subarray(0, 9))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 0]);
    expect(idOfLabels(labels)).toBe(0x0102_0304_0506_0708n);
    expect(idOfLabels(new Uint8Array(16))).toBeUndefined();
    const withSerial = sessionLabels(0xffff_ffff_ffff_fffen, 0x0a0b0c0d, 0x01020304);
    expect(Array.from(withSerial)).toEqual([255, 255, 255, 255, 255, 255, 255, 254, 10, 11, 12, 13, 1, 2, 3, 4]);
    expect(idOfLabels(withSerial)).toBe(0xffff_ffff_ffff_fffen);
    expect(serialAndSlotOfLabels(withSerial)).toEqual({ serial: 0x0a0b0c0d, slot: 0x01020304 });
    expect(serialAndSlotOfLabels(undefined)).toEqual({ serial: 0, slot: 0 });
  });

  it("the kernel's timeout outlasts the longest default idle timeout", () => {
    expect(kernelTimeoutFor(3_600_000)).toBe(3_630);
    expect(kernelTimeoutFor(1)).toBe(31);
    expect(kernelTimeoutFor(1e12)).toBe(2_000_000);
  });

  it("lists ids ascending after any id, whatever order they came and went in", () => {
    const order = createIdOrder();
    const live = new Set<bigint>();
    for (const id of [5n, 1n, 9n, 3n, 2n ** 63n]) {
      order.add(id);
      live.add(id);
    }
    live.delete(9n);
    order.removed();
    live.add(9n); // back again
    order.add(9n);
    expect(order.after(undefined, (id) => live.has(id))).toEqual([1n, 3n, 5n, 9n, 2n ** 63n]);
    expect(order.after(3n, (id) => live.has(id))).toEqual([5n, 9n, 2n ** 63n]);
    live.delete(5n);
    order.removed();
    expect(order.after(1n, (id) => live.has(id))).toEqual([3n, 9n, 2n ** 63n]);
  });
});

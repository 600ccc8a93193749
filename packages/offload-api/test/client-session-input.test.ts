import { describe, expect, it } from "@jest/globals";
import { ValidationError, sessionsV1, toSessionRequest, validateSessionRequest, type SessionInput } from "../src";

const { ACTION_TYPE, IP_VERSION, PROTOCOL_ID } = sessionsV1;

const base: SessionInput = {
  sourceIp: "192.0.2.1",
  sourcePort: 40000,
  destinationIp: "198.51.100.2",
  destinationPort: 443,
  protocol: "tcp",
  action: "forward",
};

function fieldOf(fn: () => unknown): { field: string; reason: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return { field: err.field, reason: err.reason };
    throw err;
  }
  throw new Error("expected a ValidationError");
}

describe("toSessionRequest converts idiomatic input", () => {
  it("an IPv4 TCP forward session, with defaults for the LIFs and next hop", () => {
    const request = toSessionRequest(base);
    expect(request).toEqual({
      inLif: "",
      outLif: "",
      ipVersion: IP_VERSION._IPV4,
      sourceIp: Buffer.from([192, 0, 2, 1]),
      sourcePort: 40000,
      destinationIp: Buffer.from([198, 51, 100, 2]),
      destinationPort: 443,
      protocolId: PROTOCOL_ID._TCP,
      action: { actionType: ACTION_TYPE._FORWARD, actionNextHop: "" },
    });
    // The same validator the servers run accepts what the client sends.
    expect(validateSessionRequest(request).ipVersion).toBe("ipv4");
  });

  it("an IPv6 UDP mirror session with next hop and LIFs; the version comes from the text", () => {
    const request = toSessionRequest({
      ...base,
      sourceIp: "2001:db8::1",
      destinationIp: "2001:db8::2",
      protocol: "udp",
      action: "mirror",
      nextHop: "2001:db8::fe",
      inLif: "eth0",
      outLif: "eth1",
    });
    expect(request.ipVersion).toBe(IP_VERSION._IPV6);
    expect(Buffer.from(request.sourceIp).toString("hex")).toBe("20010db8000000000000000000000001");
    expect(request.destinationIp).toHaveLength(16);
    expect(request.protocolId).toBe(PROTOCOL_ID._UDP);
    expect(request.action).toEqual({ actionType: ACTION_TYPE._MIRROR, actionNextHop: "2001:db8::fe" });
    expect(request.inLif).toBe("eth0");
    expect(request.outLif).toBe("eth1");
  });

  it.each([
    ["drop", ACTION_TYPE._DROP, undefined],
    ["forward", ACTION_TYPE._FORWARD, "10.0.0.1"],
    ["mirror", ACTION_TYPE._MIRROR, "10.0.0.1"],
    ["snoop", ACTION_TYPE._SNOOP, "10.0.0.1"],
  ] as const)("action %s maps to wire %d", (action, wire, nextHop) => {
    expect(toSessionRequest({ ...base, action, nextHop }).action?.actionType).toBe(wire);
  });

  it("keeps an IPv4-mapped IPv6 literal as IPv6", () => {
    const request = toSessionRequest({ ...base, sourceIp: "::ffff:192.0.2.1", destinationIp: "::1" });
    expect(request.ipVersion).toBe(IP_VERSION._IPV6);
  });
});

describe("toSessionRequest refuses malformed input with a ValidationError naming the field", () => {
  const cases: Array<[string, Partial<Record<keyof SessionInput, unknown>>, string, RegExp]> = [
    ["a host name", { sourceIp: "example.com" }, "sourceIp", /not an IPv4 or IPv6/],
    ["a CIDR", { destinationIp: "10.0.0.0/8" }, "destinationIp", /not an IPv4 or IPv6/],
    ["a short IPv4 form", { sourceIp: "10.1" }, "sourceIp", /not an IPv4 or IPv6/],
    ["a number as address", { sourceIp: 3232235777 }, "sourceIp", /address text/],
    ["mixed IPv4 and IPv6", { destinationIp: "2001:db8::2" }, "destinationIp", /IPv6 but sourceIp is IPv4/],
    ["mixed IPv6 and IPv4", { sourceIp: "2001:db8::1" }, "destinationIp", /IPv4 but sourceIp is IPv6/],
    ["port 0", { sourcePort: 0 }, "sourcePort", /outside 1\.\.65535/],
    ["port 65536", { destinationPort: 65536 }, "destinationPort", /outside 1\.\.65535/],
    ["a fractional port", { sourcePort: 80.5 }, "sourcePort", /outside/],
    ["NaN port", { destinationPort: Number.NaN }, "destinationPort", /outside/],
    ["protocol icmp", { protocol: "icmp" }, "protocol", /"tcp", "udp"/],
    ["protocol in capitals", { protocol: "TCP" }, "protocol", /got TCP/],
    ["an unknown action", { action: "reject" }, "action", /"drop", "forward", "mirror", "snoop"/],
    ["a missing action", { action: undefined }, "action", /got undefined/],
    ["mirror without next hop", { action: "mirror" }, "nextHop", /required for _MIRROR/],
    ["snoop without next hop", { action: "snoop", nextHop: "" }, "nextHop", /required for _SNOOP/],
    ["a next hop that is a name", { nextHop: "router.local" }, "nextHop", /not an IPv4 or IPv6/],
    ["an inLif of 65 bytes", { inLif: "x".repeat(65) }, "inLif", /longer than 64 bytes/],
    ["an outLif of 22 three-byte characters", { outLif: "€".repeat(22) }, "outLif", /longer than 64 bytes/],
    ["a control character in inLif", { inLif: "eth\n0" }, "inLif", /control characters/],
    ["a non-string outLif", { outLif: 7 }, "outLif", /expected a string/],
  ];
  it.each(cases)("%s", (_name, overrides, field, reason) => {
    const got = fieldOf(() => toSessionRequest({ ...base, ...overrides } as SessionInput));
    expect(got.field).toBe(field);
    expect(got.reason).toMatch(reason);
  });

  it("the error message reads field: reason", () => {
    expect(() => toSessionRequest({ ...base, sourcePort: 0 })).toThrow("sourcePort: port 0 is outside 1..65535");
  });

  it("accepts a LIF of exactly 64 bytes", () => {
    expect(toSessionRequest({ ...base, inLif: "y".repeat(64) }).inLif).toHaveLength(64);
  });
});

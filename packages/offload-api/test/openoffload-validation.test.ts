import { openoffloadV1, validateOpenOffloadRequest, ValidationError } from "../src";

const { ACTION_TYPE, IP_VERSION, PROTOCOL_ID } = openoffloadV1;

function request(overrides: Partial<openoffloadV1.sessionRequest> = {}): openoffloadV1.sessionRequest {
  return openoffloadV1.sessionRequest.fromPartial({
    sessionId: 9n,
    inLif: 7,
    outLif: -3,
    ipVersion: IP_VERSION._IPV4,
    sourceIp: 0x0100000a,
    sourcePort: 40000,
    destinationIp: 0x010200c0,
    destinationPort: 443,
    protocolId: PROTOCOL_ID._TCP,
    action: { actionType: ACTION_TYPE._FORWARD },
    cacheTimeout: 30,
    ...overrides,
  });
}

const v6 = (hex: string) => Buffer.from(hex, "hex");

describe("validateOpenOffloadRequest", () => {
  it("converts a valid IPv4 request: in_addr addresses, LIFs as decimal text, cacheTimeout in ms", () => {
    expect(validateOpenOffloadRequest(request())).toEqual({
      id: 9n,
      spec: {
        inLif: "7",
        outLif: "-3",
        ipVersion: "ipv4",
        sourceIp: Uint8Array.of(10, 0, 0, 1),
        sourcePort: 40000,
        destinationIp: Uint8Array.of(192, 0, 2, 1),
        destinationPort: 443,
        protocol: "tcp",
        action: "forward",
        nextHop: "",
        idleTimeoutMs: 30_000,
      },
    });
  });

  it("converts IPv6 from the V6 fields and takes a next hop of either version", () => {
    const { spec } = validateOpenOffloadRequest(
      request({
        ipVersion: IP_VERSION._IPV6,
        sourceIp: 0,
        sourceIpV6: v6("20010db8000000000000000000000001"),
        destinationIpV6: v6("20010db8000000000000000000000002"),
        action: { actionType: ACTION_TYPE._MIRROR, actionNextHop: 0x090000c6, actionNextHopV6: Buffer.alloc(0) },
      }),
    );
    expect(spec).toMatchObject({ ipVersion: "ipv6", action: "mirror", nextHop: "198.0.0.9" });
    expect(Buffer.from(spec.sourceIp).toString("hex")).toBe("20010db8000000000000000000000001");
    const snoop = validateOpenOffloadRequest(
      request({
        action: {
          actionType: ACTION_TYPE._SNOOP,
          actionNextHop: 0,
          actionNextHopV6: v6("20010db8000000000000000000000009"),
        },
      }),
    );
    expect(snoop.spec.nextHop).toBe("2001:db8::9");
  });

  it("reads an absent action as _DROP", () => {
    expect(validateOpenOffloadRequest(request({ action: undefined })).spec.action).toBe("drop");
  });

  it.each<[string, Partial<openoffloadV1.sessionRequest>, string]>([
    ["id 0", { sessionId: 0n }, "sessionId"],
    ["an unknown IP_VERSION", { ipVersion: 7 as openoffloadV1.IP_VERSION }, "ipVersion"],
    [
      "an IPv6 source of 15 bytes",
      { ipVersion: IP_VERSION._IPV6, sourceIpV6: Buffer.alloc(15), destinationIpV6: Buffer.alloc(16) },
      "sourceIpV6",
    ],
    [
      "an IPv6 destination of 0 bytes",
      { ipVersion: IP_VERSION._IPV6, sourceIpV6: Buffer.alloc(16) },
      "destinationIpV6",
    ],
    ["source port 0", { sourcePort: 0 }, "sourcePort"],
    ["destination port 65536", { destinationPort: 65536 }, "destinationPort"],
    ["_HOPOPT", { protocolId: PROTOCOL_ID._HOPOPT }, "protocolId"],
    ["protocol 1", { protocolId: 1 as openoffloadV1.PROTOCOL_ID }, "protocolId"],
    [
      "an unknown ACTION_TYPE",
      { action: { actionType: 9 as openoffloadV1.ACTION_TYPE, actionNextHop: 0, actionNextHopV6: Buffer.alloc(0) } },
      "action.actionType",
    ],
    [
      "_MIRROR without a next hop",
      { action: { actionType: ACTION_TYPE._MIRROR, actionNextHop: 0, actionNextHopV6: Buffer.alloc(0) } },
      "action.actionNextHop",
    ],
    [
      "a next hop of 5 bytes",
      { action: { actionType: ACTION_TYPE._FORWARD, actionNextHop: 0, actionNextHopV6: Buffer.alloc(5) } },
      "action.actionNextHopV6",
    ],
  ])("refuses %s", (_what, overrides, field) => {
    let error: unknown;
    try {
      validateOpenOffloadRequest(request(overrides));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe(field);
  });
});

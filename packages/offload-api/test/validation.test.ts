import {
  ValidationError,
  sessionFromWire,
  sessionToWire,
  sessionsV1,
  specToWire,
  validateSessionRequest,
  type Session,
} from "../src";

const { ACTION_TYPE, IP_VERSION, PROTOCOL_ID } = sessionsV1;

function request(overrides: Partial<sessionsV1.sessionRequest> = {}): sessionsV1.sessionRequest {
  return {
    inLif: "eth0",
    outLif: "eth1",
    ipVersion: IP_VERSION._IPV4,
    sourceIp: Buffer.from([192, 0, 2, 1]),
    sourcePort: 40000,
    destinationIp: Buffer.from([198, 51, 100, 2]),
    destinationPort: 443,
    protocolId: PROTOCOL_ID._TCP,
    action: { actionType: ACTION_TYPE._FORWARD, actionNextHop: "" },
    ...overrides,
  };
}

const v6 = Buffer.from("20010db8000000000000000000000001", "hex");

describe("validateSessionRequest accepts", () => {
  it("a well-formed IPv4 TCP forward request", () => {
    expect(validateSessionRequest(request())).toEqual({
      inLif: "eth0",
      outLif: "eth1",
      ipVersion: "ipv4",
      sourceIp: Buffer.from([192, 0, 2, 1]),
      sourcePort: 40000,
      destinationIp: Buffer.from([198, 51, 100, 2]),
      destinationPort: 443,
      protocol: "tcp",
      action: "forward",
      nextHop: "",
    });
  });

  it.each([
    [
      "IPv6 UDP mirror",
      {
        ipVersion: 1,
        sourceIp: v6,
        destinationIp: v6,
        protocolId: 17,
        action: { actionType: 2, actionNextHop: "2001:db8::9" },
      },
    ],
    ["snoop to an IPv4 next hop", { action: { actionType: 3, actionNextHop: "203.0.113.7" } }],
    ["drop with no action message (the proto3 default)", { action: undefined }],
    ["ports 1 and 65535", { sourcePort: 1, destinationPort: 65535 }],
    ["empty LIFs", { inLif: "", outLif: "" }],
    ["a 64-byte LIF", { inLif: "x".repeat(64) }],
    ["a 64-byte multi-byte LIF", { outLif: "é".repeat(32) }],
  ])("%s", (_name, overrides) => {
    expect(() => validateSessionRequest(request(overrides as Partial<sessionsV1.sessionRequest>))).not.toThrow();
  });
});

describe("validateSessionRequest refuses, naming the field and the reason", () => {
  it.each([
    ["IPv4 source of 16 bytes", { sourceIp: v6 }, "sourceIp", /_IPV4 needs 4 address bytes, got 16/],
    ["IPv4 destination of 3 bytes", { destinationIp: Buffer.from([1, 2, 3]) }, "destinationIp", /got 3/],
    ["IPv6 source of 4 bytes", { ipVersion: 1, destinationIp: v6 }, "sourceIp", /_IPV6 needs 16 address bytes, got 4/],
    [
      "IPv6 destination of 0 bytes",
      { ipVersion: 1, sourceIp: v6, destinationIp: Buffer.alloc(0) },
      "destinationIp",
      /got 0/,
    ],
    ["source port 0", { sourcePort: 0 }, "sourcePort", /outside 1\.\.65535/],
    ["destination port 65536", { destinationPort: 65536 }, "destinationPort", /65536 is outside/],
    ["protocol _HOPOPT", { protocolId: 0 }, "protocolId", /_HOPOPT/],
    ["protocol 1 (ICMP)", { protocolId: 1 }, "protocolId", /unknown PROTOCOL_ID 1/],
    ["protocol 300", { protocolId: 300 }, "protocolId", /unknown PROTOCOL_ID 300/],
    ["unknown ipVersion", { ipVersion: 2 }, "ipVersion", /unknown IP_VERSION 2/],
    [
      "unknown actionType",
      { action: { actionType: 9, actionNextHop: "" } },
      "action.actionType",
      /unknown ACTION_TYPE 9/,
    ],
    [
      "mirror without next hop",
      { action: { actionType: 2, actionNextHop: "" } },
      "action.actionNextHop",
      /required for _MIRROR/,
    ],
    [
      "snoop without next hop",
      { action: { actionType: 3, actionNextHop: "" } },
      "action.actionNextHop",
      /required for _SNOOP/,
    ],
    [
      "a next hop that is a name",
      { action: { actionType: 1, actionNextHop: "router.example" } },
      "action.actionNextHop",
      /not an IPv4 or IPv6 address literal/,
    ],
    [
      "a next hop with a prefix",
      { action: { actionType: 2, actionNextHop: "10.0.0.1/8" } },
      "action.actionNextHop",
      /not an IPv4/,
    ],
    ["a 65-byte inLif", { inLif: "x".repeat(65) }, "inLif", /longer than 64 bytes/],
    ["a 66-byte multi-byte outLif", { outLif: "é".repeat(33) }, "outLif", /longer than 64 bytes/],
    ["a newline in inLif", { inLif: "eth0\n" }, "inLif", /control characters/],
    ["a NUL in outLif", { outLif: "a\u0000b" }, "outLif", /control characters/],
    ["DEL in inLif", { inLif: "\u007f" }, "inLif", /control characters/],
  ])("%s", (_name, overrides, field, reason) => {
    let caught: unknown;
    try {
      validateSessionRequest(request(overrides as Partial<sessionsV1.sessionRequest>));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    const err = caught as ValidationError;
    expect(err.field).toBe(field);
    expect(err.reason).toMatch(reason);
    expect(err.message).toBe(`${field}: ${err.reason}`);
  });
});

describe("conversion at the edge", () => {
  it("spec -> wire request -> spec is the identity", () => {
    const spec = validateSessionRequest(request({ action: { actionType: 2, actionNextHop: "192.0.2.9" } }));
    expect(validateSessionRequest(specToWire(spec))).toEqual(spec);
  });

  it("session -> wire response -> session keeps 64-bit values and nanoseconds", () => {
    const session: Session = {
      id: 2n ** 64n - 1n,
      state: "closed",
      closeCode: "rst",
      inPackets: 2n ** 53n + 1n,
      outPackets: 0n,
      inBytes: 2n ** 63n,
      outBytes: 1n,
      startTime: 1587584225_580877001n,
      endTime: 1587584226_000000999n,
    };
    const wire = sessionToWire(session);
    expect(wire.startTime).toEqual({ seconds: 1587584225n, nanos: 580877001 });
    expect(wire.sessionState).toBe(sessionsV1.SESSION_STATE._CLOSED);
    expect(wire.sessionCloseCode).toBe(sessionsV1.SESSION_CLOSE_CODE._RST);
    const bytes = sessionsV1.sessionResponse.encode(wire).finish();
    expect(sessionFromWire(sessionsV1.sessionResponse.decode(bytes))).toEqual(session);
  });

  it("a live session has no endTime on the wire", () => {
    const wire = sessionToWire({
      id: 1n,
      state: "established",
      closeCode: "notClosed",
      inPackets: 0n,
      outPackets: 0n,
      inBytes: 0n,
      outBytes: 0n,
      startTime: 5n,
      endTime: undefined,
    });
    expect(wire.endTime).toBeUndefined();
    expect(wire.startTime).toEqual({ seconds: 0n, nanos: 5 });
  });

  it("sessionFromWire refuses an unknown state number", () => {
    const wire = sessionsV1.sessionResponse.fromPartial({ sessionState: 9 as sessionsV1.SESSION_STATE });
    expect(() => sessionFromWire(wire)).toThrow(/sessionState: unknown SESSION_STATE 9/);
  });
});

/**
 * Wire compatibility of the second generation (openoffload.v1): the
 * generated (ts-proto) code against an independent decoder built by
 * protobufjs from the .proto file, and both against the OpenOffload schema's
 * names, numbers and types written out here, so that a changed field fails
 * even when the stubs were regenerated from the changed schema.
 */
import { join } from "node:path";
import protobuf from "protobufjs";
import { ipv4FromInAddr, ipv4ToInAddr, openoffloadV1 } from "../src";

const root = new protobuf.Root();
root.loadSync(join(__dirname, "../../../proto/openoffload/v1/openoffload.proto"), { keepCase: true });
const pbType = (name: string) => root.lookupType(`openoffload.v1.${name}`);

const TS = "google.protobuf.Timestamp";
/** The OpenOffload wire schema: message -> [field, number, type, repeated?]. */
const CONTRACT: Record<string, [string, number, string, boolean?][]> = {
  sessionId: [["sessionId", 1, "uint64"]],
  actionParameters: [
    ["actionType", 1, "ACTION_TYPE"],
    ["actionNextHop", 2, "uint32"],
    ["actionNextHopV6", 3, "bytes"],
  ],
  sessionRequest: [
    ["sessionId", 1, "uint64"],
    ["inLif", 2, "int32"],
    ["outLif", 3, "int32"],
    ["ipVersion", 4, "IP_VERSION"],
    ["sourceIp", 5, "uint32"],
    ["sourceIpV6", 6, "bytes"],
    ["sourcePort", 7, "uint32"],
    ["destinationIp", 8, "uint32"],
    ["destinationIpV6", 9, "bytes"],
    ["destinationPort", 10, "uint32"],
    ["protocolId", 11, "PROTOCOL_ID"],
    ["action", 12, "actionParameters"],
    ["cacheTimeout", 13, "uint32"],
  ],
  sessionResponseError: [
    ["sessionId", 1, "uint64"],
    ["errorStatus", 2, "int32"],
  ],
  sessionResponses: [
    ["sessionInfo", 1, "sessionResponse", true],
    ["nextkey", 2, "uint64"],
  ],
  addSessionResponse: [
    ["requestStatus", 1, "ADD_SESSION_STATUS"],
    ["errorStatus", 2, "uint64"],
    ["startTime", 3, TS],
    ["responseError", 4, "sessionResponseError", true],
  ],
  sessionResponse: [
    ["sessionId", 1, "uint64"],
    ["inPackets", 2, "uint64"],
    ["outPackets", 3, "uint64"],
    ["inBytes", 4, "uint64"],
    ["outBytes", 5, "uint64"],
    ["sessionState", 6, "SESSION_STATE"],
    ["sessionCloseCode", 7, "SESSION_CLOSE_CODE"],
    ["requestStatus", 8, "REQUEST_STATUS"],
    ["startTime", 9, TS],
    ["endTime", 10, TS],
  ],
  sessionRequestArgs: [
    ["pageSize", 1, "uint32"],
    ["page", 2, "uint32"],
    ["startSession", 3, "uint64"],
  ],
};

const ENUMS: Record<string, Record<string, number>> = {
  IP_VERSION: { _IPV4: 0, _IPV6: 1 },
  PROTOCOL_ID: { _HOPOPT: 0, _TCP: 6, _UDP: 17 },
  SESSION_STATE: { _ESTABLISHED: 0, _CLOSING_1: 1, _CLOSING_2: 2, _CLOSED: 3, _UNKNOWN_STATE: 4 },
  SESSION_CLOSE_CODE: { _NOT_CLOSED: 0, _FINACK: 1, _RST: 2, _TIMEOUT: 3, _UNKNOWN_CLOSE_CODE: 4 },
  ADD_SESSION_STATUS: {
    _SESSION_ACCEPTED: 0,
    _SESSION_REJECTED: 1,
    _SESSION_TABLE_FULL: 2,
    _SESSION_TABLE_UNAVAILABLE: 3,
    _SESSION_ALREADY_EXISTS: 4,
  },
  REQUEST_STATUS: {
    _ACCEPTED: 0,
    _REJECTED: 1,
    _REJECTED_SESSION_NONEXISTENT: 2,
    _REJECTED_SESSION_TABLE_FULL: 3,
    _REJECTED_SESSION_ALREADY_EXISTS: 4,
    _NO_CLOSED_SESSIONS: 5,
    _REJECTED_INTERNAL_ERROR: 6,
  },
  ACTION_TYPE: { _DROP: 0, _FORWARD: 1, _MIRROR: 2, _SNOOP: 3 },
};

describe("openoffload.v1: the schema matches the OpenOffload contract", () => {
  it("is package openoffload.v1", () => {
    expect(openoffloadV1.protobufPackage).toBe("openoffload.v1");
  });

  it.each(Object.entries(CONTRACT))("message %s has the contract's fields, numbers and types", (name, fields) => {
    const actual = pbType(name).fieldsArray.map((f) => [f.name, f.id, f.type, ...(f.repeated ? [true] : [])]);
    expect(actual).toEqual(fields);
  });

  it.each(Object.entries(ENUMS))("enum %s has the contract's values", (name, values) => {
    expect(root.lookupEnum(`openoffload.v1.${name}`).values).toEqual(values);
    expect((openoffloadV1 as unknown as Record<string, Record<string, number>>)[name]).toMatchObject(values);
  });

  it("PROTOCOL_ID reserves every other protocol number", () => {
    expect(root.lookupEnum("openoffload.v1.PROTOCOL_ID").reserved).toEqual([
      [1, 5],
      [7, 16],
      [18, 255],
    ]);
  });

  it("one service with the five methods, paths and stream kinds of OpenOffload", () => {
    const methods = Object.values(openoffloadV1.SessionTableService).map((m) => [
      m.path,
      m.requestStream,
      m.responseStream,
    ]);
    expect(methods).toEqual([
      ["/openoffload.v1.SessionTable/addSession", true, false],
      ["/openoffload.v1.SessionTable/getSession", false, false],
      ["/openoffload.v1.SessionTable/deleteSession", false, false],
      ["/openoffload.v1.SessionTable/getAllSessions", false, false],
      ["/openoffload.v1.SessionTable/getClosedSessions", false, true],
    ]);
  });
});

const U64 = [0n, 1n, 2n ** 31n, 2n ** 53n + 1n, 2n ** 64n - 1n];

/** protobufjs's plain view: longs as strings, bytes as base64, defaults filled. */
function pbObject(name: string, bytes: Uint8Array): Record<string, unknown> {
  const t = pbType(name);
  return t.toObject(t.decode(bytes), { longs: String, enums: Number, bytes: String, defaults: true }) as Record<
    string,
    unknown
  >;
}

/** Encodes with ts-proto, decodes and re-encodes with protobufjs, decodes with ts-proto again. */
function roundTrip<T>(type: openoffloadV1.MessageFns<T>, name: string, message: T): T {
  const t = pbType(name);
  return type.decode(t.encode(t.decode(type.encode(message).finish())).finish());
}

describe("openoffload.v1: generated encode -> protobufjs decode, and back", () => {
  const requests: openoffloadV1.sessionRequest[] = [
    openoffloadV1.sessionRequest.fromPartial({
      sessionId: 2n ** 64n - 1n,
      inLif: -1,
      outLif: 2 ** 31 - 1,
      ipVersion: openoffloadV1.IP_VERSION._IPV4,
      sourceIp: 0x0100000a,
      sourcePort: 1,
      destinationIp: 0xffffffff,
      destinationPort: 65535,
      protocolId: openoffloadV1.PROTOCOL_ID._TCP,
      action: { actionType: openoffloadV1.ACTION_TYPE._MIRROR, actionNextHop: 0x010200c0 },
      cacheTimeout: 0xffffffff,
    }),
    openoffloadV1.sessionRequest.fromPartial({
      sessionId: 1n,
      inLif: -(2 ** 31),
      ipVersion: openoffloadV1.IP_VERSION._IPV6,
      sourceIpV6: Buffer.from("20010db8000000000000000000000001", "hex"),
      destinationIpV6: Buffer.from("fe800000000000000000000000000042", "hex"),
      protocolId: openoffloadV1.PROTOCOL_ID._UDP,
      action: {
        actionType: openoffloadV1.ACTION_TYPE._SNOOP,
        actionNextHopV6: Buffer.from("20010db8000000000000000000000009", "hex"),
      },
    }),
  ];

  it.each(requests.map((r, i) => [i, r] as const))("sessionRequest #%i", (_i, request) => {
    const decoded = pbObject("sessionRequest", openoffloadV1.sessionRequest.encode(request).finish());
    expect(decoded).toMatchObject({
      sessionId: request.sessionId.toString(),
      inLif: request.inLif,
      outLif: request.outLif,
      sourceIp: request.sourceIp,
      destinationIp: request.destinationIp,
      sourceIpV6: request.sourceIpV6.toString("base64"),
      cacheTimeout: request.cacheTimeout,
      action: {
        actionType: request.action?.actionType,
        actionNextHop: request.action?.actionNextHop,
        actionNextHopV6: request.action?.actionNextHopV6.toString("base64"),
      },
    });
    expect(roundTrip(openoffloadV1.sessionRequest, "sessionRequest", request)).toEqual(request);
  });

  it.each(U64.map((v) => [v]))("addSessionResponse with errorStatus %s and responseError ids", (value) => {
    const response: openoffloadV1.addSessionResponse = {
      requestStatus: openoffloadV1.ADD_SESSION_STATUS._SESSION_TABLE_FULL,
      errorStatus: value,
      startTime: { seconds: 1_700_000_000n, nanos: 999_999_999 },
      responseError: [
        { sessionId: value, errorStatus: 6 },
        { sessionId: 3n, errorStatus: 8 },
        { sessionId: 2n ** 63n, errorStatus: -1 },
      ],
    };
    const decoded = pbObject("addSessionResponse", openoffloadV1.addSessionResponse.encode(response).finish());
    expect(decoded.errorStatus).toBe(value.toString());
    expect(decoded.responseError).toEqual([
      { sessionId: value.toString(), errorStatus: 6 },
      { sessionId: "3", errorStatus: 8 },
      { sessionId: (2n ** 63n).toString(), errorStatus: -1 },
    ]);
    expect(roundTrip(openoffloadV1.addSessionResponse, "addSessionResponse", response)).toEqual(response);
  });

  it.each(U64.map((v) => [v]))("sessionResponses page with counters and nextkey %s", (value) => {
    const session = (id: bigint): openoffloadV1.sessionResponse => ({
      sessionId: id,
      inPackets: value,
      outPackets: 2n ** 64n - 1n - value,
      inBytes: value,
      outBytes: 7n,
      sessionState: openoffloadV1.SESSION_STATE._UNKNOWN_STATE,
      sessionCloseCode: openoffloadV1.SESSION_CLOSE_CODE._UNKNOWN_CLOSE_CODE,
      requestStatus: openoffloadV1.REQUEST_STATUS._REJECTED_INTERNAL_ERROR,
      startTime: { seconds: 1n, nanos: 2 },
      endTime: undefined,
    });
    const page: openoffloadV1.sessionResponses = { sessionInfo: [session(1n), session(value)], nextkey: value };
    const decoded = pbObject("sessionResponses", openoffloadV1.sessionResponses.encode(page).finish());
    expect(decoded.nextkey).toBe(value.toString());
    expect((decoded.sessionInfo as Array<Record<string, unknown>>)[1]?.outPackets).toBe(
      (2n ** 64n - 1n - value).toString(),
    );
    expect(roundTrip(openoffloadV1.sessionResponses, "sessionResponses", page)).toEqual(page);
  });

  it.each(U64.map((v) => [v]))("sessionRequestArgs with startSession %s", (value) => {
    const args: openoffloadV1.sessionRequestArgs = { pageSize: 64, page: 3, startSession: value };
    expect(pbObject("sessionRequestArgs", openoffloadV1.sessionRequestArgs.encode(args).finish())).toEqual({
      pageSize: 64,
      page: 3,
      startSession: value.toString(),
    });
    expect(roundTrip(openoffloadV1.sessionRequestArgs, "sessionRequestArgs", args)).toEqual(args);
  });
});

describe("IPv4 in a uint32 is struct in_addr.s_addr read little-endian", () => {
  it.each<[string, number[], number]>([
    ["10.0.0.1", [10, 0, 0, 1], 0x0100000a],
    ["192.0.2.1", [192, 0, 2, 1], 0x010200c0],
    ["255.255.255.255", [255, 255, 255, 255], 0xffffffff],
    ["0.0.0.0", [0, 0, 0, 0], 0],
  ])("%s <-> %i", (_text, bytes, value) => {
    expect(ipv4ToInAddr(Uint8Array.from(bytes))).toBe(value);
    expect(Array.from(ipv4FromInAddr(value))).toEqual(bytes);
    // What a C client on a little-endian host puts on the wire: the in_addr's bytes as a varint of that value.
    const wire = openoffloadV1.sessionRequest
      .encode(openoffloadV1.sessionRequest.fromPartial({ sourceIp: value }))
      .finish();
    expect(pbObject("sessionRequest", wire).sourceIp).toBe(Buffer.from(bytes).readUInt32LE(0));
  });

  it("gives every address bytes of its own, across the shared slabs they are cut from", () => {
    // 5,000 addresses of 4 bytes span three 8 KiB slabs: none may overlap another or change afterwards.
    const values = Array.from({ length: 5000 }, (_, i) => Math.imul(i + 1, 0x9e3779b1) >>> 0 || 1);
    const addresses = values.map((value) => ipv4FromInAddr(value));
    addresses.forEach((bytes, i) => {
      expect(bytes).toBeInstanceOf(Uint8Array);
      expect(bytes.length).toBe(4);
      expect(ipv4ToInAddr(bytes)).toBe(values[i]);
    });
    // Writing to one changes no other.
    addresses[0]?.fill(0);
    expect(addresses.slice(1).every((bytes, i) => ipv4ToInAddr(bytes) === values[i + 1])).toBe(true);
  });
});

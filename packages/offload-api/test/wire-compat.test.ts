/**
 * Wire compatibility: the generated (ts-proto) code against an independent
 * decoder built by protobufjs from the .proto file, and both against the
 * contract table of API.md, so that a changed field number or type fails here
 * even when the stubs were regenerated from the changed schema.
 */
import { join } from "node:path";
import protobuf from "protobufjs";
import { sessionsV1 } from "../src";

const root = new protobuf.Root();
root.loadSync(join(__dirname, "../../../proto/sessions/v1/sessions.proto"), { keepCase: true });
const pbType = (name: string) => root.lookupType(`sessions.v1.${name}`);

/** The wire schema as API.md fixes it: message -> [field, number, type]. */
const CONTRACT: Record<string, [string, number, string][]> = {
  sessionId: [["sessionId", 1, "uint64"]],
  actionType: [
    ["actionType", 1, "ACTION_TYPE"],
    ["actionNextHop", 2, "string"],
  ],
  sessionRequest: [
    ["inLif", 1, "string"],
    ["outLif", 2, "string"],
    ["ipVersion", 3, "IP_VERSION"],
    ["sourceIp", 4, "bytes"],
    ["sourcePort", 5, "uint32"],
    ["destinationIp", 6, "bytes"],
    ["destinationPort", 7, "uint32"],
    ["protocolId", 8, "PROTOCOL_ID"],
    ["action", 9, "actionType"],
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
    ["startTime", 9, "google.protobuf.Timestamp"],
    ["endTime", 10, "google.protobuf.Timestamp"],
  ],
  statisticsRequestArgs: [["pageSize", 1, "uint32"]],
};

const ENUMS: Record<string, Record<string, number>> = {
  IP_VERSION: { _IPV4: 0, _IPV6: 1 },
  PROTOCOL_ID: { _HOPOPT: 0, _TCP: 6, _UDP: 17 },
  SESSION_STATE: { _ESTABLISHED: 0, _CLOSING_1: 1, _CLOSING_2: 2, _CLOSED: 3 },
  SESSION_CLOSE_CODE: { _NOT_CLOSED: 0, _FINACK: 1, _RST: 2, _TIMEOUT: 3 },
  REQUEST_STATUS: {
    _ACCEPTED: 0,
    _REJECTED: 1,
    _REJECTED_SESSION_NONEXISTENT: 2,
    _REJECTED_SESSION_TABLE_FULL: 3,
    _REJECTED_SESSION_ALREADY_EXISTS: 4,
  },
  ACTION_TYPE: { _DROP: 0, _FORWARD: 1, _MIRROR: 2, _SNOOP: 3 },
};

const WIRE_TYPE: Record<string, number> = { uint64: 0, uint32: 0, string: 2, bytes: 2 };
const wireTypeOf = (type: string) => WIRE_TYPE[type] ?? (type in ENUMS ? 0 : 2);

const U64 = [0n, 1n, 2n ** 53n + 1n, 2n ** 64n - 1n];

/** Normalises a protobufjs plain object (longs and enums as strings, bytes as base64). */
function pbObject(name: string, bytes: Uint8Array): Record<string, unknown> {
  const t = pbType(name);
  return t.toObject(t.decode(bytes), { longs: String, enums: Number, bytes: String, defaults: true }) as Record<
    string,
    unknown
  >;
}

describe("the schema matches the API.md contract", () => {
  it.each(Object.entries(CONTRACT))("message %s has the contract's fields, numbers and types", (name, fields) => {
    const t = pbType(name);
    const actual = t.fieldsArray.map((f) => [f.name, f.id, f.type]);
    expect(actual).toEqual(fields);
  });

  it.each(Object.entries(ENUMS))("enum %s has the contract's values", (name, values) => {
    expect(root.lookupEnum(`sessions.v1.${name}`).values).toEqual(values);
    expect((sessionsV1 as unknown as Record<string, Record<string, number>>)[name]).toMatchObject(values);
  });

  it("PROTOCOL_ID reserves every other protocol number", () => {
    expect(root.lookupEnum("sessions.v1.PROTOCOL_ID").reserved).toEqual([
      [1, 5],
      [7, 16],
      [18, 255],
    ]);
  });

  it("the gRPC paths are the original ones", () => {
    const paths = [
      ...Object.values(sessionsV1.SessionTableService).map((m) => m.path),
      ...Object.values(sessionsV1.SessionStatisticsTableService).map((m) => m.path),
    ];
    expect(paths).toEqual([
      "/sessions.v1.SessionTable/addSession",
      "/sessions.v1.SessionTable/getSession",
      "/sessions.v1.SessionTable/deleteSession",
      "/sessions.v1.SessionStatisticsTable/getAllSessions",
      "/sessions.v1.SessionStatisticsTable/getClosedSessions",
    ]);
    expect(sessionsV1.SessionStatisticsTableService.getAllSessions.responseStream).toBe(true);
    expect(sessionsV1.SessionStatisticsTableService.getClosedSessions.responseStream).toBe(true);
    expect(sessionsV1.SessionTableService.addSession.responseStream).toBe(false);
  });
});

describe("the generated encoder writes the contract's tags", () => {
  const samples: Record<string, () => Uint8Array> = {
    "sessionId.sessionId": () => sessionsV1.sessionId.encode({ sessionId: 7n }).finish(),
    "actionType.actionType": () => sessionsV1.actionType.encode({ actionType: 2, actionNextHop: "" }).finish(),
    "actionType.actionNextHop": () =>
      sessionsV1.actionType.encode({ actionType: 0, actionNextHop: "1.2.3.4" }).finish(),
    "statisticsRequestArgs.pageSize": () => sessionsV1.statisticsRequestArgs.encode({ pageSize: 9 }).finish(),
  };
  const requestField = (field: string, value: unknown) => () =>
    sessionsV1.sessionRequest.encode({ ...sessionsV1.sessionRequest.create(), [field]: value }).finish();
  for (const [field, value] of [
    ["inLif", "a"],
    ["outLif", "b"],
    ["ipVersion", 1],
    ["sourceIp", Buffer.from([1, 2, 3, 4])],
    ["sourcePort", 80],
    ["destinationIp", Buffer.from([5, 6, 7, 8])],
    ["destinationPort", 443],
    ["protocolId", 6],
    ["action", { actionType: 1 }],
  ] as const) {
    samples[`sessionRequest.${field}`] = requestField(field, value);
  }
  const responseField = (field: string, value: unknown) => () =>
    sessionsV1.sessionResponse.encode({ ...sessionsV1.sessionResponse.create(), [field]: value }).finish();
  for (const [field, value] of [
    ["sessionId", 1n],
    ["inPackets", 1n],
    ["outPackets", 1n],
    ["inBytes", 1n],
    ["outBytes", 1n],
    ["sessionState", 3],
    ["sessionCloseCode", 2],
    ["requestStatus", 4],
    ["startTime", { seconds: 1n, nanos: 1 }],
    ["endTime", { seconds: 1n, nanos: 1 }],
  ] as const) {
    samples[`sessionResponse.${field}`] = responseField(field, value);
  }

  it.each(Object.keys(samples))("%s", (key) => {
    const [message, field] = key.split(".") as [string, string];
    const spec = CONTRACT[message]?.find(([name]) => name === field);
    if (!spec) throw new Error(`no contract entry for ${key}`);
    const bytes = samples[key]!();
    expect(bytes[0]).toBe((spec[1] << 3) | wireTypeOf(spec[2]));
  });
});

describe("generated encode -> protobufjs decode, and back", () => {
  const requests: sessionsV1.sessionRequest[] = [
    {
      inLif: "eth0",
      outLif: "eth1.100",
      ipVersion: sessionsV1.IP_VERSION._IPV4,
      sourceIp: Buffer.from([10, 0, 0, 1]),
      sourcePort: 1,
      destinationIp: Buffer.from([192, 0, 2, 255]),
      destinationPort: 65535,
      protocolId: sessionsV1.PROTOCOL_ID._TCP,
      action: { actionType: sessionsV1.ACTION_TYPE._MIRROR, actionNextHop: "198.51.100.9" },
    },
    {
      inLif: "",
      outLif: "ünïcode",
      ipVersion: sessionsV1.IP_VERSION._IPV6,
      sourceIp: Buffer.from("20010db8000000000000000000000001", "hex"),
      sourcePort: 40000,
      destinationIp: Buffer.from("fe800000000000000000000000000042", "hex"),
      destinationPort: 53,
      protocolId: sessionsV1.PROTOCOL_ID._UDP,
      action: { actionType: sessionsV1.ACTION_TYPE._SNOOP, actionNextHop: "2001:db8::9" },
    },
  ];
  for (const actionType of Object.values(ENUMS.ACTION_TYPE!)) {
    requests.push(sessionsV1.sessionRequest.fromPartial({ protocolId: 17, action: { actionType } }));
  }
  for (const protocolId of Object.values(ENUMS.PROTOCOL_ID!)) {
    requests.push(sessionsV1.sessionRequest.fromPartial({ protocolId }));
  }

  it.each(requests.map((r, i) => [i, r] as const))("sessionRequest #%i", (_i, request) => {
    const bytes = sessionsV1.sessionRequest.encode(request).finish();
    const decoded = pbObject("sessionRequest", bytes);
    expect(decoded).toEqual({
      inLif: request.inLif,
      outLif: request.outLif,
      ipVersion: request.ipVersion,
      sourceIp: Buffer.from(request.sourceIp).toString("base64"),
      sourcePort: request.sourcePort,
      destinationIp: Buffer.from(request.destinationIp).toString("base64"),
      destinationPort: request.destinationPort,
      protocolId: request.protocolId,
      action: request.action
        ? { actionType: request.action.actionType, actionNextHop: request.action.actionNextHop }
        : null,
    });
    const t = pbType("sessionRequest");
    const back = sessionsV1.sessionRequest.decode(t.encode(t.decode(bytes)).finish());
    expect(back).toEqual(request);
  });

  const responses: sessionsV1.sessionResponse[] = [];
  for (const value of U64) {
    responses.push({
      sessionId: value,
      inPackets: value,
      outPackets: U64[(U64.indexOf(value) + 1) % U64.length]!,
      inBytes: value,
      outBytes: 2n ** 64n - 1n - value,
      sessionState: sessionsV1.SESSION_STATE._CLOSED,
      sessionCloseCode: sessionsV1.SESSION_CLOSE_CODE._TIMEOUT,
      requestStatus: sessionsV1.REQUEST_STATUS._ACCEPTED,
      startTime: { seconds: 1587584225n, nanos: 580877000 },
      endTime: { seconds: 1587584225n, nanos: 999999999 },
    });
  }
  for (const [e, field] of [
    ["SESSION_STATE", "sessionState"],
    ["SESSION_CLOSE_CODE", "sessionCloseCode"],
    ["REQUEST_STATUS", "requestStatus"],
  ] as const) {
    for (const v of Object.values(ENUMS[e]!)) {
      responses.push({
        ...sessionsV1.sessionResponse.create({ sessionId: 1n, startTime: { seconds: 0n, nanos: 1 } }),
        [field]: v,
      });
    }
  }

  it.each(responses.map((r, i) => [i, r] as const))("sessionResponse #%i", (_i, response) => {
    const bytes = sessionsV1.sessionResponse.encode(response).finish();
    const decoded = pbObject("sessionResponse", bytes);
    const ts = (t: typeof response.startTime) => (t ? { seconds: t.seconds.toString(), nanos: t.nanos } : null);
    expect(decoded).toEqual({
      sessionId: response.sessionId.toString(),
      inPackets: response.inPackets.toString(),
      outPackets: response.outPackets.toString(),
      inBytes: response.inBytes.toString(),
      outBytes: response.outBytes.toString(),
      sessionState: response.sessionState,
      sessionCloseCode: response.sessionCloseCode,
      requestStatus: response.requestStatus,
      startTime: ts(response.startTime),
      endTime: ts(response.endTime),
    });
    const t = pbType("sessionResponse");
    const back = sessionsV1.sessionResponse.decode(t.encode(t.decode(bytes)).finish());
    expect(back).toEqual(response);
  });

  it.each(U64)("sessionId %p survives protobufjs and back", (value) => {
    const t = pbType("sessionId");
    const viaPb = t.encode(t.fromObject({ sessionId: value.toString() })).finish();
    expect(sessionsV1.sessionId.decode(viaPb).sessionId).toBe(value);
    expect(pbObject("sessionId", sessionsV1.sessionId.encode({ sessionId: value }).finish())).toEqual({
      sessionId: value.toString(),
    });
  });

  it.each([0, 1, 4294967295])("statisticsRequestArgs pageSize %p", (pageSize) => {
    const bytes = sessionsV1.statisticsRequestArgs.encode({ pageSize }).finish();
    expect(pbObject("statisticsRequestArgs", bytes)).toEqual({ pageSize });
  });

  it("an unknown enum number survives decoding as its number", () => {
    const t = pbType("sessionRequest");
    const bytes = t.encode(t.fromObject({ protocolId: 99, ipVersion: 7 })).finish();
    const decoded = sessionsV1.sessionRequest.decode(bytes);
    expect(decoded.protocolId).toBe(99);
    expect(decoded.ipVersion).toBe(7);
  });
});

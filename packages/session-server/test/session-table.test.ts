import { createInsecureCredentials } from "@sessionoffload/server-transport";
import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { createFakeClock, createMemorySwitch, type FakeClock, type MemorySwitch } from "@sessionoffload/switch-backend";
import { nanosToTimestamp, sessionsV1, UINT64_MAX } from "@sessionoffload/offload-api";
import type { OffloadServer } from "@sessionoffload/server-transport";
import { createSessionServer } from "../src";
import { call, ok, request, sessionClient } from "./support";

const { REQUEST_STATUS, SESSION_STATE, SESSION_CLOSE_CODE, IP_VERSION, PROTOCOL_ID, ACTION_TYPE } = sessionsV1;

let clock: FakeClock;
let backend: MemorySwitch;
let server: OffloadServer;
let client: sessionsV1.SessionTableClient;

async function start(options: { capacity?: number; firstId?: bigint } = {}): Promise<void> {
  clock = createFakeClock();
  backend = createMemorySwitch({
    capacity: options.capacity ?? 8,
    clock,
    traffic: false,
    tickIntervalMs: 0,
    firstId: options.firstId,
  });
  server = createSessionServer({ backend, credentials: createInsecureCredentials() });
  client = sessionClient(await server.listen("127.0.0.1:0"));
}

const add = (req: sessionsV1.sessionRequest) => ok(client.addSession, client, req);
const get = (id: bigint) => ok(client.getSession, client, { sessionId: id });
const del = (id: bigint) => ok(client.deleteSession, client, { sessionId: id });

afterEach(async () => {
  client.close();
  await server.shutdown();
  backend.close();
});

describe("addSession", () => {
  beforeEach(() => start());

  it("accepts a new session: id, _ESTABLISHED, startTime = now", async () => {
    const res = await add(request(1));
    expect(res.requestStatus).toBe(REQUEST_STATUS._ACCEPTED);
    expect(res.sessionId).toBe(1n);
    expect(res.sessionState).toBe(SESSION_STATE._ESTABLISHED);
    expect(res.sessionCloseCode).toBe(SESSION_CLOSE_CODE._NOT_CLOSED);
    expect(res.startTime).toEqual(nanosToTimestamp(clock.now()));
    expect(res.endTime).toBeUndefined();
    expect(backend.size()).toBe(1);
  });

  it("accepts IPv6, UDP, and every action with a valid next hop", async () => {
    const v6 = Buffer.alloc(16, 0);
    v6[15] = 1;
    const cases: sessionsV1.sessionRequest[] = [
      request(1, { ipVersion: IP_VERSION._IPV6, sourceIp: v6, destinationIp: Buffer.alloc(16, 2) }),
      request(2, { protocolId: PROTOCOL_ID._UDP }),
      request(3, { action: { actionType: ACTION_TYPE._DROP, actionNextHop: "" } }),
      request(4, { action: { actionType: ACTION_TYPE._MIRROR, actionNextHop: "192.0.2.1" } }),
      request(5, { action: { actionType: ACTION_TYPE._SNOOP, actionNextHop: "2001:db8::1" } }),
      request(6, { action: undefined }),
      request(7, { inLif: "x".repeat(64), outLif: "" }),
    ];
    for (const req of cases) expect((await add(req)).requestStatus).toBe(REQUEST_STATUS._ACCEPTED);
    expect(backend.size()).toBe(cases.length);
  });

  it("answers a live duplicate 7-tuple with _REJECTED_SESSION_ALREADY_EXISTS and the existing id", async () => {
    const first = await add(request(1));
    const dup = await add(request(1, { action: { actionType: ACTION_TYPE._DROP, actionNextHop: "" } }));
    expect(dup.requestStatus).toBe(REQUEST_STATUS._REJECTED_SESSION_ALREADY_EXISTS);
    expect(dup.sessionId).toBe(first.sessionId);
    expect(backend.size()).toBe(1);
  });

  it("lets a new connection reuse the 7-tuple of an ended, uncollected session", async () => {
    const first = await add(request(1));
    backend.endSession(first.sessionId, "rst");
    const again = await add(request(1));
    expect(again.requestStatus).toBe(REQUEST_STATUS._ACCEPTED);
    expect(again.sessionId).not.toBe(first.sessionId);
    expect(backend.size()).toBe(2);
  });

  it("answers _REJECTED_SESSION_TABLE_FULL at capacity, counting closed uncollected sessions", async () => {
    for (let i = 0; i < 8; i += 1) await add(request(i));
    const full = await add(request(100));
    expect(full.requestStatus).toBe(REQUEST_STATUS._REJECTED_SESSION_TABLE_FULL);
    expect(full.sessionId).toBe(0n);
    backend.endSession(1n, "finAck");
    expect((await add(request(101))).requestStatus).toBe(REQUEST_STATUS._REJECTED_SESSION_TABLE_FULL);
    await del(2n);
    expect((await add(request(102))).requestStatus).toBe(REQUEST_STATUS._ACCEPTED);
  });
});

describe("addSession refuses malformed requests with INVALID_ARGUMENT naming the field", () => {
  beforeEach(() => start());

  const v4 = (n: number) => Buffer.alloc(n, 1);
  const cases: Array<[string, Partial<sessionsV1.sessionRequest>, string]> = [
    ["IPv4 source of 0 bytes", { sourceIp: v4(0) }, "sourceIp"],
    ["IPv4 source of 3 bytes", { sourceIp: v4(3) }, "sourceIp"],
    ["IPv4 source of 16 bytes", { sourceIp: v4(16) }, "sourceIp"],
    ["IPv4 destination of 5 bytes", { destinationIp: v4(5) }, "destinationIp"],
    ["IPv6 source of 4 bytes", { ipVersion: IP_VERSION._IPV6, sourceIp: v4(4), destinationIp: v4(16) }, "sourceIp"],
    ["IPv6 source of 15 bytes", { ipVersion: IP_VERSION._IPV6, sourceIp: v4(15), destinationIp: v4(16) }, "sourceIp"],
    [
      "IPv6 destination of 17 bytes",
      { ipVersion: IP_VERSION._IPV6, sourceIp: v4(16), destinationIp: v4(17) },
      "destinationIp",
    ],
    ["source port 0", { sourcePort: 0 }, "sourcePort"],
    ["source port 65536", { sourcePort: 65536 }, "sourcePort"],
    ["destination port 0", { destinationPort: 0 }, "destinationPort"],
    ["destination port 65536", { destinationPort: 65536 }, "destinationPort"],
    ["protocol _HOPOPT", { protocolId: PROTOCOL_ID._HOPOPT }, "protocolId"],
    ["protocol 1 (reserved)", { protocolId: 1 as sessionsV1.PROTOCOL_ID }, "protocolId"],
    ["protocol 255", { protocolId: 255 as sessionsV1.PROTOCOL_ID }, "protocolId"],
    ["unknown ipVersion 2", { ipVersion: 2 as sessionsV1.IP_VERSION }, "ipVersion"],
    [
      "unknown actionType 4",
      { action: { actionType: 4 as sessionsV1.ACTION_TYPE, actionNextHop: "" } },
      "action.actionType",
    ],
    [
      "_MIRROR without next hop",
      { action: { actionType: ACTION_TYPE._MIRROR, actionNextHop: "" } },
      "action.actionNextHop",
    ],
    [
      "_SNOOP without next hop",
      { action: { actionType: ACTION_TYPE._SNOOP, actionNextHop: "" } },
      "action.actionNextHop",
    ],
    [
      "next hop that is a name",
      { action: { actionType: ACTION_TYPE._FORWARD, actionNextHop: "router.example" } },
      "action.actionNextHop",
    ],
    [
      "next hop with a CIDR suffix",
      { action: { actionType: ACTION_TYPE._MIRROR, actionNextHop: "10.0.0.1/24" } },
      "action.actionNextHop",
    ],
    [
      "short IPv4 next hop",
      { action: { actionType: ACTION_TYPE._MIRROR, actionNextHop: "10.1" } },
      "action.actionNextHop",
    ],
    ["inLif of 65 bytes", { inLif: "x".repeat(65) }, "inLif"],
    ["outLif of 33 two-byte characters", { outLif: "é".repeat(33) }, "outLif"],
    ["inLif with a newline", { inLif: "eth\n0" }, "inLif"],
    ["outLif with NUL", { outLif: "eth\u00001" }, "outLif"],
    ["outLif with DEL", { outLif: "eth\u007f" }, "outLif"],
  ];

  it.each(cases)("%s", async (_name, overrides, field) => {
    const outcome = await call(client.addSession, client, request(1, overrides));
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.code).toBe(status.INVALID_ARGUMENT);
    expect(outcome.error.details.startsWith(`${field}: `)).toBe(true);
    expect(outcome.error.details.length).toBeGreaterThan(field.length + 4);
    expect(backend.size()).toBe(0);
  });
});

describe("getSession", () => {
  beforeEach(() => start());

  it("answers a live session with its counters as the switch sees them", async () => {
    const { sessionId } = await add(request(1));
    backend.addTraffic(sessionId, { inPackets: 3n, outPackets: 2n, inBytes: 300n, outBytes: 120n });
    const res = await get(sessionId);
    expect(res).toMatchObject({
      sessionId,
      requestStatus: REQUEST_STATUS._ACCEPTED,
      sessionState: SESSION_STATE._ESTABLISHED,
      inPackets: 3n,
      outPackets: 2n,
      inBytes: 300n,
      outBytes: 120n,
    });
    expect(res.endTime).toBeUndefined();
  });

  it("answers an ended session with _CLOSED, its close code and endTime", async () => {
    const { sessionId } = await add(request(1));
    clock.advance(1500);
    backend.endSession(sessionId, "rst");
    const res = await get(sessionId);
    expect(res.sessionState).toBe(SESSION_STATE._CLOSED);
    expect(res.sessionCloseCode).toBe(SESSION_CLOSE_CODE._RST);
    expect(res.endTime).toEqual(nanosToTimestamp(clock.now()));
  });

  it.each([
    ["an id never assigned", 77n],
    ["id 0", 0n],
    ["2^53 + 1", 2n ** 53n + 1n],
    ["2^64 - 1", UINT64_MAX],
  ])("answers _REJECTED_SESSION_NONEXISTENT for %s", async (_name, id) => {
    await add(request(1));
    const res = await get(id);
    expect(res.requestStatus).toBe(REQUEST_STATUS._REJECTED_SESSION_NONEXISTENT);
    expect(res.sessionId).toBe(0n);
  });
});

describe("deleteSession", () => {
  beforeEach(() => start());

  it("removes the entry at once and answers final counters, _CLOSING_1 and endTime = now", async () => {
    const { sessionId } = await add(request(1));
    backend.addTraffic(sessionId, { inPackets: 1n, outPackets: 1n, inBytes: 60n, outBytes: 40n });
    clock.advance(2000);
    const res = await del(sessionId);
    expect(res).toMatchObject({
      sessionId,
      requestStatus: REQUEST_STATUS._ACCEPTED,
      sessionState: SESSION_STATE._CLOSING_1,
      inPackets: 1n,
      outBytes: 40n,
      endTime: nanosToTimestamp(clock.now()),
    });
    expect(backend.size()).toBe(0);
    expect((await get(sessionId)).requestStatus).toBe(REQUEST_STATUS._REJECTED_SESSION_NONEXISTENT);
    expect((await del(sessionId)).requestStatus).toBe(REQUEST_STATUS._REJECTED_SESSION_NONEXISTENT);
  });

  it("answers _REJECTED_SESSION_NONEXISTENT for an unknown or huge id", async () => {
    expect((await del(5n)).requestStatus).toBe(REQUEST_STATUS._REJECTED_SESSION_NONEXISTENT);
    expect((await del(UINT64_MAX)).requestStatus).toBe(REQUEST_STATUS._REJECTED_SESSION_NONEXISTENT);
  });

  it("lets the freed 7-tuple be added again", async () => {
    const { sessionId } = await add(request(1));
    await del(sessionId);
    expect((await add(request(1))).requestStatus).toBe(REQUEST_STATUS._ACCEPTED);
  });
});

describe("ids above 2^53", () => {
  it("survive add, get and delete without losing precision", async () => {
    await start({ firstId: UINT64_MAX - 1n });
    const a = await add(request(1));
    const b = await add(request(2));
    expect([a.sessionId, b.sessionId]).toEqual([UINT64_MAX - 1n, UINT64_MAX]);
    expect((await get(UINT64_MAX)).sessionId).toBe(UINT64_MAX);
    expect((await del(UINT64_MAX - 1n)).sessionId).toBe(UINT64_MAX - 1n);
    expect((await get(UINT64_MAX - 1n)).requestStatus).toBe(REQUEST_STATUS._REJECTED_SESSION_NONEXISTENT);
  });
});

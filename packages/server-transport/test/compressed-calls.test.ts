// Compressed requests that cannot be decompressed, on both transports: each
// is answered with an error status and the server goes on serving. grpc-js
// 1.14.3 decompressed without an 'error' listener, so one getSession with
// `grpc-encoding: gzip`, the compressed flag and a body that is not gzip
// ended the process (Unhandled 'error' event ... Z_DATA_ERROR). The native
// transport forwards compressed calls to grpc-js, so it was reachable there
// too. An unhandled 'error' here would fail the test run itself.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { deflateSync, gzipSync } from "node:zlib";
import { credentials, status } from "@grpc/grpc-js";
import { createSessionServer } from "@sessionoffload/session-server";
import { createStatsServer } from "@sessionoffload/stats-server";
import { createMemorySwitch } from "@sessionoffload/switch-backend";
import { sessionsV1 } from "@sessionoffload/offload-api";
import { createInsecureCredentials, type OffloadServer, type OffloadTransport } from "../src";
import { frame, rawCall } from "./call-support";

const GET = sessionsV1.SessionTableService.getSession.path;
const LIST = sessionsV1.SessionStatisticsTableService.getAllSessions.path;
const getRequest = Buffer.from(sessionsV1.sessionId.encode({ sessionId: 1n }).finish());
const listRequest = Buffer.from(sessionsV1.statisticsRequestArgs.encode({ pageSize: 0 }).finish());

// name, grpc-encoding, the message body (sent with the compressed flag), the status expected
type Case = readonly [string, string, (request: Buffer) => Buffer, status];
const cases: readonly Case[] = [
  ["gzip, a body that is not gzip", "gzip", () => Buffer.from("this is not gzip at all"), status.INTERNAL],
  ["deflate, a body that is not deflate", "deflate", () => Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]), status.INTERNAL],
  [
    "gzip, a stream cut in the middle",
    "gzip",
    (r) => gzipSync(Buffer.concat([r, Buffer.alloc(4096, 7)])).subarray(0, 20),
    status.INTERNAL,
  ],
  ["gzip, an empty body", "gzip", () => Buffer.alloc(0), status.INTERNAL],
  ["deflate, a gzip body", "deflate", (r) => gzipSync(r), status.INTERNAL],
  [
    "gzip, 8 MiB of zeros (past the 4 MiB receive limit)",
    "gzip",
    () => gzipSync(Buffer.alloc(8 << 20)),
    status.RESOURCE_EXHAUSTED,
  ],
];

describe.each(["native", "grpc-js"] as OffloadTransport[])("compressed requests on the %s transport", (transport) => {
  const backend = createMemorySwitch({ capacity: 100, traffic: false, tickIntervalMs: 0 });
  let sessions: OffloadServer;
  let stats: OffloadServer;
  let sessionsPort: number;
  let statsPort: number;
  let client: sessionsV1.SessionTableClient;

  beforeAll(async () => {
    sessions = createSessionServer({ transport, backend, credentials: createInsecureCredentials() });
    stats = createStatsServer({ transport, backend, credentials: createInsecureCredentials() });
    sessionsPort = await sessions.listen("127.0.0.1:0");
    statsPort = await stats.listen("127.0.0.1:0");
    client = new sessionsV1.SessionTableClient(`127.0.0.1:${sessionsPort}`, credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await Promise.all([sessions.shutdown(), stats.shutdown()]);
    await backend.close();
  });

  // A proper call on its own connection: the server is still serving.
  const stillServing = (): Promise<status> =>
    new Promise((resolve) => client.getSession({ sessionId: 99n }, (err) => resolve(err ? err.code : status.OK)));

  it.each(cases)("getSession with %s: answered, and the server keeps serving", async (_name, encoding, body, code) => {
    const raw = await rawCall(sessionsPort, GET, [frame(body(getRequest), true)], {
      headers: { "grpc-encoding": encoding },
    });
    expect(raw?.code).toBe(code);
    expect(await stillServing()).toBe(status.OK);
  });

  it.each(cases)(
    "getAllSessions with %s: answered, and the server keeps serving",
    async (_name, encoding, body, code) => {
      const raw = await rawCall(statsPort, LIST, [frame(body(listRequest), true)], {
        headers: { "grpc-encoding": encoding },
      });
      expect(raw?.code).toBe(code);
      expect(raw?.messages).toEqual([]);
      expect(await stillServing()).toBe(status.OK);
    },
  );

  it("answers an encoding it does not know UNIMPLEMENTED", async () => {
    const raw = await rawCall(sessionsPort, GET, [frame(getRequest, true)], { headers: { "grpc-encoding": "snappy" } });
    expect(raw?.code).toBe(status.UNIMPLEMENTED);
    expect(await stillServing()).toBe(status.OK);
  });

  it.each([
    ["gzip", gzipSync],
    ["deflate", deflateSync],
  ] as const)("serves a request that is properly %s-compressed", async (encoding, compress) => {
    const raw = await rawCall(sessionsPort, GET, [frame(compress(getRequest), true)], {
      headers: { "grpc-encoding": encoding },
    });
    expect(raw?.code).toBe(status.OK);
    expect(raw?.messages).toHaveLength(1);
  });
});

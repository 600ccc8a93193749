import { createInsecureCredentials } from "../src";
import { afterEach, describe, expect, it } from "@jest/globals";
import { createServer, type Server as NetServer } from "node:net";
import { credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { backendErrorToStatus, createOffloadServer, type OffloadServer } from "../src";
import { createSilentLogger, isLevelEnabled, sessionsV1 } from "@sessionoffload/offload-api";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

// A SessionTable whose getSession answers the id it was asked for.
const echo: sessionsV1.SessionTableServer = {
  addSession: (_call, cb) => cb({ code: status.UNIMPLEMENTED }),
  getSession: (call, cb) => cb(null, sessionsV1.sessionResponse.fromPartial({ sessionId: call.request.sessionId })),
  deleteSession: (_call, cb) => cb({ code: status.UNIMPLEMENTED }),
};

function echoServer(onShutdown?: () => void): OffloadServer {
  const server = createOffloadServer({
    credentials: createInsecureCredentials(),
    install: (s) => s.addService(sessionsV1.SessionTableService, echo),
    onShutdown,
  });
  cleanups.push(() => server.shutdown());
  return server;
}

function get(port: number, id: bigint): Promise<bigint> {
  const client = new sessionsV1.SessionTableClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise<bigint>((resolve, reject) =>
    client.getSession(
      { sessionId: id },
      new Metadata(),
      (err: ServiceError | null, res?: sessionsV1.sessionResponse) =>
        err ? reject(err) : resolve(res?.sessionId ?? -1n),
    ),
  ).finally(() => client.close());
}

describe("createOffloadServer", () => {
  it("listens on several addresses and answers on each", async () => {
    const server = echoServer();
    const a = await server.listen("127.0.0.1:0");
    const b = await server.listen("127.0.0.1:0");
    expect(a).not.toBe(b);
    expect(await get(a, 7n)).toBe(7n);
    expect(await get(b, 2n ** 64n - 1n)).toBe(2n ** 64n - 1n);
  });

  it("rejects listen on a port in use with EADDRINUSE", async () => {
    const blocker: NetServer = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const port = (blocker.address() as { port: number }).port;
    await expect(echoServer().listen(`127.0.0.1:${port}`)).rejects.toThrow(/EADDRINUSE/);
  });

  it("shutdown is idempotent, runs onShutdown once and stops answering", async () => {
    let calls = 0;
    const server = echoServer(() => (calls += 1));
    const port = await server.listen("127.0.0.1:0");
    const first = server.shutdown();
    expect(server.shutdown()).toBe(first);
    await first;
    server.forceShutdown();
    expect(calls).toBe(1);
    await expect(get(port, 1n)).rejects.toMatchObject({ code: status.UNAVAILABLE });
  });

  it("refuses a negative shutdownTimeoutMs", () => {
    expect(() =>
      createOffloadServer({
        credentials: createInsecureCredentials(),
        install: () => undefined,
        shutdownTimeoutMs: -1,
      }),
    ).toThrow("shutdownTimeoutMs");
  });
});

describe("helpers", () => {
  it.each([
    [{ code: "ECONNREFUSED" }, status.UNAVAILABLE],
    [{ code: "ETIMEDOUT" }, status.UNAVAILABLE],
    [{ code: "SQLITE_BUSY" }, status.INTERNAL],
    [{ retryable: true }, status.UNAVAILABLE],
    [{ code: "SQLITE_CORRUPT" }, status.INTERNAL],
    [{ code: 14 }, status.INTERNAL],
    [new TypeError("x"), status.INTERNAL],
    [undefined, status.INTERNAL],
    ["text", status.INTERNAL],
  ])("backendErrorToStatus(%p) is %p", (err, code) => {
    expect(backendErrorToStatus(err).code).toBe(code);
  });

  it("the silent logger reports every level disabled; a logger without isLevelEnabled writes all", () => {
    expect(isLevelEnabled(createSilentLogger(), "error")).toBe(false);
    const noop = () => undefined;
    expect(isLevelEnabled({ debug: noop, info: noop, warn: noop, error: noop }, "debug")).toBe(true);
  });
});

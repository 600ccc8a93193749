import { createInsecureCredentials } from "@sessionoffload/server-transport";
import { afterEach, describe, expect, it } from "@jest/globals";
import { Server, ServerCredentials, status } from "@grpc/grpc-js";
import { BACKEND_INTERNAL_MESSAGE, BACKEND_UNAVAILABLE_MESSAGE } from "@sessionoffload/server-transport";
import { sessionsV1 } from "@sessionoffload/offload-api";
import {
  createFakeClock,
  createMemorySwitch,
  SwitchUnavailableError,
  type MemorySwitch,
  type SwitchBackend,
} from "@sessionoffload/switch-backend";
import { createSessionServer, createSessionTableHandlers } from "../src";
import { call, ok, recordingLogger, request, sessionClient } from "./support";

const { REQUEST_STATUS } = sessionsV1;
const insecure = createInsecureCredentials();

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(backend: SwitchBackend, extra: Partial<Parameters<typeof createSessionServer>[0]> = {}) {
  const server = createSessionServer({ backend, credentials: insecure, ...extra });
  const client = sessionClient(await server.listen("127.0.0.1:0"));
  cleanups.push(() => server.shutdown());
  cleanups.push(() => client.close());
  return { server, client };
}

function memorySwitch(): MemorySwitch {
  const backend = createMemorySwitch({ capacity: 16, traffic: false, tickIntervalMs: 0 });
  cleanups.push(() => backend.close());
  return backend;
}

// The memory switch behind promises: every answer is asynchronous, as a remote switch's.
function asyncSwitch(inner: MemorySwitch): SwitchBackend {
  return {
    add: async (spec) => inner.add(spec),
    get: async (id) => inner.get(id),
    delete: async (id) => inner.delete(id),
    sessions: (options) => inner.sessions(options),
    takeClosed: async (max) => inner.takeClosed(max),
    size: async () => inner.size(),
    close: async () => inner.close(),
  };
}

// A switch that cannot serve: every call throws (or rejects) `err`.
function failingSwitch(err: unknown, mode: "throw" | "reject"): SwitchBackend {
  const fail = (): never => {
    throw err;
  };
  const answer = mode === "throw" ? fail : () => Promise.reject(err);
  return {
    add: answer,
    get: answer,
    delete: answer,
    sessions: fail,
    takeClosed: answer,
    size: answer,
    close: () => undefined,
  };
}

describe("a backend that answers with promises", () => {
  it("gives the same answers as a synchronous one", async () => {
    const inner = memorySwitch();
    const { client } = await serve(asyncSwitch(inner));
    const a = await ok(client.addSession, client, request(1));
    expect(a.requestStatus).toBe(REQUEST_STATUS._ACCEPTED);
    expect((await ok(client.addSession, client, request(1))).requestStatus).toBe(
      REQUEST_STATUS._REJECTED_SESSION_ALREADY_EXISTS,
    );
    expect((await ok(client.getSession, client, { sessionId: a.sessionId })).sessionId).toBe(a.sessionId);
    expect((await ok(client.deleteSession, client, { sessionId: a.sessionId })).requestStatus).toBe(
      REQUEST_STATUS._ACCEPTED,
    );
    expect((await ok(client.getSession, client, { sessionId: a.sessionId })).requestStatus).toBe(
      REQUEST_STATUS._REJECTED_SESSION_NONEXISTENT,
    );
    expect(inner.size()).toBe(0);
  });
});

describe("backend failures", () => {
  const secret = "disk /dev/sda1 on fire at 0xdeadbeef";
  const cases: Array<[string, unknown, status, string]> = [
    [
      "a connection refused",
      Object.assign(new Error(secret), { code: "ECONNREFUSED" }),
      status.UNAVAILABLE,
      BACKEND_UNAVAILABLE_MESSAGE,
    ],
    [
      "a switch that is unavailable",
      new SwitchUnavailableError(secret),
      status.UNAVAILABLE,
      BACKEND_UNAVAILABLE_MESSAGE,
    ],
    [
      "a retryable error",
      Object.assign(new Error(secret), { retryable: true }),
      status.UNAVAILABLE,
      BACKEND_UNAVAILABLE_MESSAGE,
    ],
    ["a plain Error", new Error(secret), status.INTERNAL, BACKEND_INTERNAL_MESSAGE],
    ["a thrown string", secret, status.INTERNAL, BACKEND_INTERNAL_MESSAGE],
  ];

  for (const mode of ["throw", "reject"] as const) {
    it.each(cases)(
      `${mode}: %s answers the mapped status, logs the cause and never sends it`,
      async (_name, err, code, details) => {
        const logger = recordingLogger(false);
        const { client } = await serve(failingSwitch(err, mode), { logger });
        const outcomes = [
          await call(client.addSession, client, request(1)),
          await call(client.getSession, client, { sessionId: 1n }),
          await call(client.deleteSession, client, { sessionId: 1n }),
        ];
        for (const outcome of outcomes) {
          expect(outcome.ok).toBe(false);
          if (outcome.ok) continue;
          expect(outcome.error.code).toBe(code);
          expect(outcome.error.details).toBe(details);
          expect(outcome.error.message).not.toContain("fire");
        }
        const errors = logger.lines.filter((l) => l.level === "error");
        expect(errors.map((l) => l.fields.method)).toEqual(["addSession", "getSession", "deleteSession"]);
        for (const line of errors) expect(line.fields.err).toBe(err);
      },
    );
  }

  it("still refuses a malformed request with INVALID_ARGUMENT before touching the backend", async () => {
    const { client } = await serve(failingSwitch(new Error("boom"), "throw"));
    const outcome = await call(client.addSession, client, request(1, { sourcePort: 0 }));
    expect(!outcome.ok && outcome.error.code).toBe(status.INVALID_ARGUMENT);
  });
});

describe("request logging", () => {
  it("writes one readable debug line per request when debug is enabled: addresses as text, enum names, ids as strings", async () => {
    const logger = recordingLogger(true);
    const { client } = await serve(memorySwitch(), { logger });
    await ok(client.addSession, client, request(1));
    await call(client.addSession, client, request(2, { destinationPort: 0 }));
    await ok(client.getSession, client, { sessionId: 9n });
    await ok(
      client.addSession,
      client,
      request(3, {
        ipVersion: sessionsV1.IP_VERSION._IPV6,
        sourceIp: Buffer.from("20010db8000000000000000000000001", "hex"),
        destinationIp: Buffer.from("20010db8000000000000000000000002", "hex"),
        protocolId: sessionsV1.PROTOCOL_ID._UDP,
        action: { actionType: sessionsV1.ACTION_TYPE._MIRROR, actionNextHop: "192.0.2.9" },
      }),
    );
    await call(client.addSession, client, request(4, { sourceIp: Buffer.from([10, 0, 0]) }));
    const debug = logger.lines.filter((l) => l.level === "debug" && l.message === "request");
    expect(debug.map((l) => [l.fields.method, l.fields.result ?? l.fields.code, l.fields.sessionId])).toEqual([
      ["addSession", "accepted", "1"],
      ["addSession", "INVALID_ARGUMENT", undefined],
      ["getSession", "notFound", undefined],
      ["addSession", "accepted", "2"],
      ["addSession", "INVALID_ARGUMENT", undefined],
    ]);
    expect(debug[0]?.fields.request).toEqual({
      inLif: "eth0",
      outLif: "eth1",
      ipVersion: "ipv4",
      source: "10.0.0.1:1025",
      destination: "10.0.0.2:443",
      protocol: "tcp",
      action: "forward",
      nextHop: undefined,
    });
    expect(debug[1]?.fields.details).toMatch(/destinationPort/);
    expect(debug[2]?.fields.request).toEqual({ sessionId: "9" });
    expect(debug[3]?.fields.request).toMatchObject({
      ipVersion: "ipv6",
      source: "[2001:db8::1]:1027",
      destination: "[2001:db8::2]:443",
      protocol: "udp",
      action: "mirror",
      nextHop: "192.0.2.9",
    });
    expect(debug[4]?.fields.request).toMatchObject({ source: "0x0a0000:1028" });
    for (const line of debug) expect(() => JSON.stringify(line.fields)).not.toThrow(); // no bigint left
  });

  it("builds no debug line when debug is disabled (the logger throws if one is)", async () => {
    const logger = recordingLogger(false);
    const { client } = await serve(memorySwitch(), { logger });
    expect((await ok(client.addSession, client, request(1))).requestStatus).toBe(REQUEST_STATUS._ACCEPTED);
    expect(logger.lines.filter((l) => l.level !== "info")).toEqual([]);
  });

  it("logs a full table at info: the first refusal at once, then one summary per 10 s, then when there is room", async () => {
    const logger = recordingLogger(false);
    const clock = createFakeClock();
    const backend = createMemorySwitch({ capacity: 1, traffic: false, tickIntervalMs: 0, clock });
    cleanups.push(() => backend.close());
    const { client } = await serve(backend, { logger, clock });
    const first = await ok(client.addSession, client, request(1));
    for (let i = 0; i < 50; i += 1) await ok(client.addSession, client, request(100 + i));
    clock.advance(10_000);
    await ok(client.addSession, client, request(200));
    await ok(client.addSession, client, request(201));
    await ok(client.deleteSession, client, { sessionId: first.sessionId });
    clock.advance(500);
    await ok(client.addSession, client, request(300));
    const info = logger.lines.filter((l) => l.level === "info" && /table/.test(l.message ?? ""));
    expect(info.map((l) => [l.message, l.fields.count, l.fields.seconds])).toEqual([
      ["table full: adds refused", undefined, undefined],
      ["table full: adds refused", 50, 10],
      ["table has room again", 52, 10.5],
    ]);
  });

  it("logs a failing backend's cause once, then summaries, then when it answers again", async () => {
    const logger = recordingLogger(false);
    const clock = createFakeClock();
    const inner = memorySwitch();
    let failing = true;
    const err = new Error("switch gone");
    const flaky: SwitchBackend = {
      ...inner,
      get: (id) => {
        if (failing) throw err;
        return inner.get(id);
      },
    };
    const { client } = await serve(flaky, { logger, clock });
    for (let i = 0; i < 5; i += 1) await call(client.getSession, client, { sessionId: 1n });
    clock.advance(12_000);
    await call(client.getSession, client, { sessionId: 1n });
    failing = false;
    await ok(client.getSession, client, { sessionId: 1n });
    await ok(client.getSession, client, { sessionId: 1n });
    expect(
      logger.lines.map((l) => [l.level, l.message, l.fields.method, l.fields.count, l.fields.err === err]),
    ).toEqual([
      ["error", "backend failure", "getSession", undefined, true],
      ["error", "backend failure", "getSession", 5, true],
      ["error", "backend answering again", undefined, 6, false],
    ]);
  });
});

describe("embedding", () => {
  it("the handlers serve from a vendor's own grpc-js server", async () => {
    const server = new Server();
    server.addService(sessionsV1.SessionTableService, createSessionTableHandlers({ backend: memorySwitch() }));
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    cleanups.push(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
    const client = sessionClient(port);
    cleanups.push(() => client.close());
    expect((await ok(client.addSession, client, request(1))).sessionId).toBe(1n);
  });
});

describe("graceful shutdown", () => {
  it("lets in-flight calls finish, refuses new ones, then resolves", async () => {
    const inner = memorySwitch();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const entered: string[] = [];
    const slow: SwitchBackend = {
      ...asyncSwitch(inner),
      add: async (spec) => {
        entered.push("add");
        await gate;
        return inner.add(spec);
      },
    };
    const { server, client } = await serve(slow);
    const inFlight = call(client.addSession, client, request(1));
    while (entered.length === 0) await new Promise((r) => setImmediate(r));
    let stopped = false;
    const stopping = server.shutdown().then(() => (stopped = true));
    const late = await call(client.getSession, client, { sessionId: 1n });
    expect(late.ok).toBe(false);
    expect(stopped).toBe(false);
    release();
    const first = await inFlight;
    expect(first.ok && first.value.requestStatus).toBe(REQUEST_STATUS._ACCEPTED);
    await stopping;
    expect(inner.size()).toBe(1);
  });

  it("cancels calls still running after shutdownTimeoutMs", async () => {
    let entered = false;
    const never: SwitchBackend = {
      ...asyncSwitch(memorySwitch()),
      add: () => {
        entered = true;
        return new Promise(() => undefined);
      },
    };
    const { server, client } = await serve(never, { shutdownTimeoutMs: 50 });
    const inFlight = call(client.addSession, client, request(1));
    while (!entered) await new Promise((r) => setImmediate(r));
    await server.shutdown();
    const outcome = await inFlight;
    expect(outcome.ok).toBe(false);
  });
});

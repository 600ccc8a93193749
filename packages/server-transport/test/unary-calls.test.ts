import { createInsecureCredentials } from "../src";
import { afterEach, describe, expect, it } from "@jest/globals";
import {
  credentials,
  Metadata,
  ServerInterceptingCall,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceError,
} from "@grpc/grpc-js";
import { createSessionServer } from "@sessionoffload/session-server";
import { createMemorySwitch, type SwitchBackend } from "@sessionoffload/switch-backend";
import {
  BACKEND_INTERNAL_MESSAGE,
  BACKEND_UNAVAILABLE_MESSAGE,
  createNativeRoute,
  createOffloadServer,
  type OffloadServer,
  type OffloadServerOptions,
} from "../src";
import { sessionsV1 } from "@sessionoffload/offload-api";
import { addRequestBytes, frame, rawCall, until, testTransport, onNative } from "./call-support";

// The transport under test: native unless a grpc-js-transport wrapper file asks for grpc-js.
const transport = testTransport();

const { REQUEST_STATUS, SessionTableService } = sessionsV1;
const ADD = SessionTableService.addSession.path;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type AddCall = ServerUnaryCall<sessionsV1.sessionRequest, sessionsV1.sessionResponse>;
type Callback = sendUnaryData<sessionsV1.sessionResponse>;

async function sessionServer(backend: SwitchBackend) {
  const server = createSessionServer({ transport, backend, credentials: createInsecureCredentials() });
  cleanups.push(() => server.shutdown());
  const port = await server.listen("127.0.0.1:0");
  const client = new sessionsV1.SessionTableClient(`127.0.0.1:${port}`, credentials.createInsecure());
  cleanups.push(() => client.close());
  return { server, port, client };
}

function memorySwitch(): ReturnType<typeof createMemorySwitch> {
  const backend = createMemorySwitch({ capacity: 100, traffic: false, tickIntervalMs: 0 });
  cleanups.push(() => backend.close());
  return backend;
}

// A SessionTable whose addSession is whatever the test says; the others echo the id.
async function scriptedServer(
  addSession: (call: AddCall, callback: Callback) => void,
  extra: Partial<OffloadServerOptions> = {},
) {
  const handlers: sessionsV1.SessionTableServer = {
    addSession,
    getSession: (call, cb) => cb(null, sessionsV1.sessionResponse.fromPartial({ sessionId: call.request.sessionId })),
    deleteSession: (call, cb) =>
      cb(null, sessionsV1.sessionResponse.fromPartial({ sessionId: call.request.sessionId })),
  };
  const server = createOffloadServer({
    transport,
    credentials: createInsecureCredentials(),
    install: (s) => s.addService(SessionTableService, handlers),
    nativeRoutes: [createNativeRoute(SessionTableService.addSession, addSession, sessionsV1.sessionResponse)],
    ...extra,
  });
  cleanups.push(() => server.shutdown());
  const port = await server.listen("127.0.0.1:0");
  const client = new sessionsV1.SessionTableClient(`127.0.0.1:${port}`, credentials.createInsecure());
  cleanups.push(() => client.close());
  return { server, port, client };
}

function add(
  client: sessionsV1.SessionTableClient,
  request: sessionsV1.sessionRequest,
  metadata = new Metadata(),
  options: { deadline?: number } = {},
): Promise<{ err: ServiceError | null; res: sessionsV1.sessionResponse | undefined }> {
  return new Promise((resolve) => {
    client.addSession(request, metadata, options, (err, res) => resolve({ err, res }));
  });
}

const validRequest = (n = 1, overrides: Partial<sessionsV1.sessionRequest> = {}) =>
  sessionsV1.sessionRequest.decode(addRequestBytes(n, overrides));

describe("unary calls: unary outcomes with the real SessionTable handlers", () => {
  it("serves add, get and delete OK, and counts them as native calls on native", async () => {
    const { server, client } = await sessionServer(memorySwitch());
    expect(server.transport).toBe(transport);
    const added = await add(client, validRequest());
    expect(added.err).toBeNull();
    expect(added.res?.requestStatus).toBe(REQUEST_STATUS._ACCEPTED);
    const id = added.res?.sessionId ?? 0n;
    expect(id).toBe(1n);
    const got = await new Promise<sessionsV1.sessionResponse | undefined>((resolve) =>
      client.getSession({ sessionId: id }, (err, res) => resolve(err ? undefined : res)),
    );
    expect(got?.sessionId).toBe(1n);
    const deleted = await new Promise<sessionsV1.sessionResponse | undefined>((resolve) =>
      client.deleteSession({ sessionId: id }, (err, res) => resolve(err ? undefined : res)),
    );
    expect(deleted?.sessionState).toBe(sessionsV1.SESSION_STATE._CLOSING_1);
    expect(server.nativeCalls.served).toBe(onNative(3));
    expect(server.nativeCalls.forwarded).toBe(onNative(0));
  });

  it("answers a malformed request INVALID_ARGUMENT naming the field, trailers-only", async () => {
    const { server, port, client } = await sessionServer(memorySwitch());
    const { err } = await add(client, validRequest(1, { sourcePort: 0 }));
    expect(err?.code).toBe(status.INVALID_ARGUMENT);
    expect(err?.details).toBe("sourcePort: port 0 is outside 1..65535");
    const raw = await rawCall(port, ADD, [frame(addRequestBytes(1, { protocolId: 0 }))]);
    expect(raw?.trailers).toBeUndefined();
    expect(raw?.headers["grpc-status"]).toBe(String(status.INVALID_ARGUMENT));
    expect(decodeURIComponent(raw?.message ?? "")).toMatch(/^protocolId: /);
    expect(server.nativeCalls.served).toBe(onNative(2));
  });

  it.each([
    [
      "a refused connection",
      Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
      status.UNAVAILABLE,
      BACKEND_UNAVAILABLE_MESSAGE,
    ],
    ["a plain error", new Error("disk on fire"), status.INTERNAL, BACKEND_INTERNAL_MESSAGE],
  ])("answers a backend that fails with %s by its status, without the cause", async (_name, failure, code, details) => {
    const inner = memorySwitch();
    const failing: SwitchBackend = {
      ...inner,
      add: () => Promise.reject(failure),
      get: () => {
        throw failure;
      },
    };
    const { server, client } = await sessionServer(failing);
    const { err } = await add(client, validRequest());
    expect(err?.code).toBe(code);
    expect(err?.details).toBe(details);
    const got = await new Promise<ServiceError | null>((resolve) =>
      client.getSession({ sessionId: 1n }, (e) => resolve(e)),
    );
    expect(got?.code).toBe(code);
    expect(server.nativeCalls.served).toBe(onNative(2));
  });

  it("answers DEADLINE_EXCEEDED itself when a slow backend outlives grpc-timeout, and drops the late answer", async () => {
    const inner = memorySwitch();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow: SwitchBackend = { ...inner, add: async (spec) => (await gate, inner.add(spec)) };
    const { server, port, client } = await sessionServer(slow);
    // No client-side deadline: the status can only come from the server.
    const raw = await rawCall(port, ADD, [frame(addRequestBytes())], { headers: { "grpc-timeout": "50m" } });
    expect(raw?.code).toBe(status.DEADLINE_EXCEEDED);
    expect(decodeURIComponent(raw?.message ?? "")).toBe("Deadline exceeded");
    release();
    await until(() => inner.size() === 1);
    // The server still serves, and the table is consistent: the late add happened once.
    const again = await add(client, validRequest());
    expect(again.res?.requestStatus).toBe(REQUEST_STATUS._REJECTED_SESSION_ALREADY_EXISTS);
    expect(server.nativeCalls.served).toBe(onNative(2));
  });
});

describe("unary calls: call object, cancellation and errors", () => {
  it("gives the handler request metadata, peer, deadline and path, and sends its metadata", async () => {
    let seen: { key: unknown; peer: string; deadline: number; path: string; host: string | undefined } | undefined;
    const { client } = await scriptedServer((call, cb) => {
      seen = {
        key: call.metadata.get("x-key")[0],
        peer: call.getPeer(),
        deadline: call.getDeadline() as number,
        path: call.getPath(),
        host: call.getHost(),
      };
      const md = new Metadata();
      md.set("x-answer", "42");
      call.sendMetadata(md);
      const trailer = new Metadata();
      trailer.set("x-trailer", "t");
      cb(null, sessionsV1.sessionResponse.fromPartial({ sessionId: 7n }), trailer);
    });
    const md = new Metadata();
    md.set("x-key", "v");
    const before = Date.now();
    const headers = new Promise<Metadata>((resolve) => {
      const call = client.addSession(validRequest(), md, { deadline: before + 60_000 }, () => undefined);
      call.on("metadata", resolve);
    });
    const trailers = new Promise<Metadata>((resolve) => {
      const call = client.addSession(validRequest(), md, () => undefined);
      call.on("status", (s) => resolve(s.metadata));
    });
    expect((await headers).get("x-answer")).toEqual(["42"]);
    expect((await trailers).get("x-trailer")).toEqual(["t"]);
    expect(seen?.key).toBe("v");
    expect(seen?.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(seen?.path).toBe(ADD);
    expect(seen?.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(Number.isFinite(seen?.deadline)).toBe(false); // the second call had no deadline
  });

  it("reports a deadline to the handler as a time", async () => {
    let deadline: number | undefined;
    const { client } = await scriptedServer((call, cb) => {
      deadline = call.getDeadline() as number;
      cb(null, sessionsV1.sessionResponse.fromPartial({}));
    });
    const before = Date.now();
    await add(client, validRequest(), new Metadata(), { deadline: before + 60_000 });
    expect(deadline).toBeGreaterThan(before + 50_000);
    expect(deadline).toBeLessThanOrEqual(before + 61_000);
  });

  it("sets cancelled when the client resets the stream before the answer, and drops the late answer", async () => {
    let held: { call: AddCall; cb: Callback } | undefined;
    const { server, port, client } = await scriptedServer((call, cb) => {
      if (call.request.sourcePort === 1025) held = { call, cb };
      else cb(null, sessionsV1.sessionResponse.fromPartial({ sessionId: 9n }));
    });
    const raw = await rawCall(port, ADD, [frame(addRequestBytes(1))], { cancelAfterMs: 20 });
    expect(raw).toBeUndefined();
    await until(() => held?.call.cancelled === true);
    held?.cb(null, sessionsV1.sessionResponse.fromPartial({ sessionId: 1n }));
    const next = await add(client, validRequest(2));
    expect(next.res?.sessionId).toBe(9n);
    expect(server.nativeCalls.served).toBe(onNative(2));
  });

  it("sets cancelled when a grpc-js client cancels", async () => {
    let held: AddCall | undefined;
    const { client } = await scriptedServer((call) => (held = call));
    const call = client.addSession(validRequest(), () => undefined);
    await until(() => held !== undefined);
    expect(held?.cancelled).toBe(false);
    call.cancel();
    await until(() => held?.cancelled === true);
  });

  it("sends error metadata and percent-encodes the message", async () => {
    const { client } = await scriptedServer((_call, cb) => {
      const metadata = new Metadata();
      metadata.set("x-reason", "quota");
      cb({ code: status.FAILED_PRECONDITION, details: "débit 100% épuisé\nretry", metadata });
    });
    const { err } = await add(client, validRequest());
    expect(err?.code).toBe(status.FAILED_PRECONDITION);
    expect(err?.details).toBe("débit 100% épuisé\nretry");
    expect(err?.metadata.get("x-reason")).toEqual(["quota"]);
  });

  it("answers UNKNOWN when the handler throws, INTERNAL when the answer cannot be encoded", async () => {
    const thrower = await scriptedServer(() => {
      throw new Error("boom");
    });
    const thrown = await add(thrower.client, validRequest());
    expect(thrown.err?.code).toBe(status.UNKNOWN);
    // grpc-js answers its own wording ("Unknown error"); the native transport names the error.
    if (transport === "native") expect(thrown.err?.details).toBe("Server method handler threw error boom");
    const bad = await scriptedServer((_call, cb) =>
      cb(null, sessionsV1.sessionResponse.fromPartial({ sessionId: -1n })),
    );
    const encoded = await add(bad.client, validRequest());
    expect(encoded.err?.code).toBe(status.INTERNAL);
    expect(encoded.err?.details).toMatch(/^Error serializing response/);
    // The reused writer was replaced: the next answer is whole.
    const good = await scriptedServer((_call, cb) =>
      cb(null, sessionsV1.sessionResponse.fromPartial({ sessionId: 5n })),
    );
    expect((await add(good.client, validRequest())).res?.sessionId).toBe(5n);
  });
});

describe("unary calls: the gRPC wire protocol", () => {
  const ok = (_call: AddCall, cb: Callback) => cb(null, sessionsV1.sessionResponse.fromPartial({ sessionId: 3n }));

  it("sends the same response headers and trailers as grpc-js", async () => {
    const fast = await scriptedServer(ok);
    const slow = await scriptedServer(ok, { transport: "grpc-js" });
    const a = await rawCall(fast.port, ADD, [frame(addRequestBytes())]);
    const b = await rawCall(slow.port, ADD, [frame(addRequestBytes())]);
    const pick = (h: Record<string, unknown> | undefined) => {
      const { date: _date, ...rest } = h ?? {};
      return rest;
    };
    expect(pick(a?.headers)).toEqual(pick(b?.headers));
    expect(pick(a?.trailers)).toEqual(pick(b?.trailers));
    expect(a?.messages.map((m) => m.toString("hex"))).toEqual(b?.messages.map((m) => m.toString("hex")));
    expect(fast.server.nativeCalls.served).toBe(onNative(1));
    expect(slow.server.transport).toBe("grpc-js");
    expect(slow.server.nativeCalls.served).toBe(0);
  });

  it("reassembles a request split across several DATA frames", async () => {
    const { server, port } = await sessionServer(memorySwitch());
    const bytes = frame(addRequestBytes());
    const chunks = [bytes.subarray(0, 2), bytes.subarray(2, 9), bytes.subarray(9, 20), bytes.subarray(20)];
    const raw = await rawCall(port, ADD, chunks, { gapMs: 10 });
    expect(raw?.code).toBe(status.OK);
    const answer = sessionsV1.sessionResponse.decode(raw?.messages[0] ?? Buffer.alloc(0));
    expect(answer.requestStatus).toBe(REQUEST_STATUS._ACCEPTED);
    expect(server.nativeCalls.served).toBe(onNative(1));
  });

  it.each([
    // name, request chunks, extra headers, native's status and message, grpc-js's status
    ["no message", [], {}, status.UNIMPLEMENTED, /^Received no request message/, status.UNIMPLEMENTED],
    [
      "two messages",
      [frame(addRequestBytes(1)), frame(addRequestBytes(2))],
      {},
      status.UNIMPLEMENTED,
      /second request message/,
      status.UNIMPLEMENTED,
    ],
    // grpc-js reads the message as uncompressed (lenient, harmless); PROTOCOL-GRPC says INTERNAL.
    [
      "a compressed flag without grpc-encoding",
      [frame(addRequestBytes(), true)],
      {},
      status.INTERNAL,
      /compressed/,
      status.OK,
    ],
    [
      "bytes that are not a sessionRequest",
      [frame(Buffer.from([0xff, 0xff, 0xff]))],
      {},
      status.INTERNAL,
      /^Error deserializing request/,
      status.INTERNAL,
    ],
    // grpc-js treats a request without a whole message as having none.
    [
      "a stream that ends inside a message",
      [frame(addRequestBytes()).subarray(0, 8)],
      {},
      status.INTERNAL,
      /ended inside a message/,
      status.UNIMPLEMENTED,
    ],
    [
      "a malformed grpc-timeout",
      [frame(addRequestBytes())],
      { "grpc-timeout": "soon" },
      status.INTERNAL,
      /Invalid grpc-timeout value "soon"/,
      status.INTERNAL,
    ],
  ])("answers %s with the right status", async (_name, chunks, headers, code, message, grpcJsCode) => {
    const { server, port } = await scriptedServer(ok);
    const raw = await rawCall(port, ADD, chunks, { headers });
    if (transport === "grpc-js") {
      expect(raw?.code).toBe(grpcJsCode);
      return;
    }
    expect(raw?.code).toBe(code);
    expect(decodeURIComponent(raw?.message ?? "")).toMatch(message);
    expect(raw?.trailers).toBeUndefined(); // trailers-only
    expect(server.nativeCalls.served).toBe(1);
  });

  it("answers RESOURCE_EXHAUSTED for a message past the 4 MiB default from its prefix", async () => {
    const { port } = await scriptedServer(ok);
    const prefix = Buffer.from([0, 0, 0x40, 0, 1]); // 4 MiB + 1
    const raw = await rawCall(port, ADD, [prefix, Buffer.alloc(1024)]);
    expect(raw?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(decodeURIComponent(raw?.message ?? "")).toMatch(
      /^Received message larger than max \(4194305 vs\.? 4194304\)$/,
    );
  });

  it("honours grpc.max_receive_message_length, also from a grpc-js client", async () => {
    const { server, client } = await scriptedServer(ok, { grpcOptions: { "grpc.max_receive_message_length": 40 } });
    const { err } = await add(client, validRequest(1, { inLif: "x".repeat(60) }));
    expect(err?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect((await add(client, validRequest())).err).toBeNull();
    expect(server.nativeCalls.served).toBe(onNative(2));
  });
});

describe("unary calls: what it leaves to grpc-js", () => {
  const ok = (_call: AddCall, cb: Callback) => cb(null, sessionsV1.sessionResponse.fromPartial({ sessionId: 3n }));

  it("hands a compressing client's calls to grpc-js, which answers them", async () => {
    const { server, port } = await scriptedServer(ok);
    const gzip = new sessionsV1.SessionTableClient(`127.0.0.1:${port}`, credentials.createInsecure(), {
      "grpc.default_compression_algorithm": 2,
    });
    cleanups.push(() => gzip.close());
    const { err, res } = await add(gzip, validRequest());
    expect(err).toBeNull();
    expect(res?.sessionId).toBe(3n);
    expect(server.nativeCalls.served).toBe(onNative(0));
    expect(server.nativeCalls.forwarded).toBe(onNative(1));
  });

  it.each([
    ["an unregistered path", "/sessions.v1.SessionTable/nope", {}, status.UNIMPLEMENTED],
    ["a registered method without a native route", SessionTableService.getSession.path, {}, status.OK],
    ["grpc-encoding gzip", ADD, { "grpc-encoding": "gzip" }, status.OK],
    ["content type application/grpc+json", ADD, { "content-type": "application/grpc+json" }, status.OK],
  ])("hands %s to grpc-js", async (_name, path, headers, code) => {
    const { server, port } = await scriptedServer(ok);
    const body = path === ADD ? addRequestBytes() : sessionsV1.sessionId.encode({ sessionId: 4n }).finish();
    const raw = await rawCall(port, path, [frame(body)], { headers });
    expect(raw?.code).toBe(code);
    expect(server.nativeCalls.served).toBe(onNative(0));
    expect(server.nativeCalls.forwarded).toBe(onNative(1));
  });

  it("leaves every call to grpc-js when there are grpc-js interceptors, which must see every call", async () => {
    const { server, client } = await scriptedServer(ok, {
      grpcOptions: { interceptors: [(_methodDescriptor, call) => new ServerInterceptingCall(call)] },
    });
    expect(server.transport).toBe("grpc-js");
    expect((await add(client, validRequest())).res?.sessionId).toBe(3n);
  });
});

describe("createNativeRoute", () => {
  it("refuses a bidirectional method", () => {
    const definition = { ...SessionTableService.addSession, requestStream: true, responseStream: true };
    expect(() =>
      createNativeRoute(definition as unknown as typeof SessionTableService.addSession, () => undefined),
    ).toThrow(
      "/sessions.v1.SessionTable/addSession: only unary, server-streaming and client-streaming methods can be native routes",
    );
  });

  it("makes a route of each kind from the method's stream flags", () => {
    const kind = (requestStream: boolean, responseStream: boolean): string =>
      createNativeRoute(
        {
          ...SessionTableService.addSession,
          requestStream,
          responseStream,
        } as unknown as typeof SessionTableService.addSession,
        () => undefined,
      ).kind;
    expect([kind(false, false), kind(false, true), kind(true, false)]).toEqual([
      "unary",
      "serverStream",
      "clientStream",
    ]);
  });
});

// Keeps the OffloadServer type referenced for readers of the helpers above.
export type { OffloadServer };

// The native HTTP/2 transport at its protocol edges, over real sockets on
// 127.0.0.1: Node's http2 client where it can say it, frames by hand where not.
import { afterEach, describe, expect, it } from "@jest/globals";
import { generateKeyPairSync } from "node:crypto";
import {
  connect as connectH2,
  constants as h2,
  type ClientHttp2Session,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type SecureClientSessionOptions,
} from "node:http2";
import { connect as connectTls, type ConnectionOptions } from "node:tls";
import {
  credentials,
  makeGenericClientConstructor,
  status,
  type Client,
  type ServiceDefinition,
  type ServiceError,
} from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import forge from "node-forge";
import type { Logger } from "@sessionoffload/offload-api";
import { createTlsCredentials } from "../src";
import { frame, unframe, until } from "./call-support";
import {
  echoService,
  F,
  PREFACE,
  RawClient,
  rawFrame,
  requestBlock,
  settingsPayload,
  startEchoServer,
  STREAM_PATH,
  T,
  UNARY_PATH,
  type EchoServerOptions,
} from "./native-transport-support";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(options: EchoServerOptions = {}): ReturnType<typeof startEchoServer> {
  const started = await startEchoServer(options);
  cleanups.push(() => started.server.forceShutdown());
  return started;
}

function session(port: number, options: SecureClientSessionOptions = {}, scheme = "http"): ClientHttp2Session {
  const s = connectH2(`${scheme}://127.0.0.1:${port}`, options);
  s.on("error", () => undefined);
  cleanups.push(() => s.destroy());
  return s;
}

async function raw(port: number, options?: Parameters<typeof RawClient.connect>[1]): Promise<RawClient> {
  const client = await RawClient.connect(port, options);
  cleanups.push(() => client.close());
  return client;
}

interface Answer {
  readonly headers: IncomingHttpHeaders;
  readonly trailers: IncomingHttpHeaders | undefined;
  readonly messages: Buffer[];
  readonly code: number;
  readonly rstCode: number | undefined;
}

/** One call on `s` with `body` (already framed); resolves when the stream closes. */
function call(s: ClientHttp2Session, path: string, body: Buffer, headers: OutgoingHttpHeaders = {}): Promise<Answer> {
  const req = s.request({
    ":method": "POST",
    ":path": path,
    "content-type": "application/grpc",
    te: "trailers",
    ...headers,
  });
  req.on("error", () => undefined);
  return new Promise((resolve) => {
    let got: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | undefined;
    const data: Buffer[] = [];
    req.on("response", (h) => (got = h));
    req.on("trailers", (t) => (trailers = t));
    req.on("data", (c: Buffer) => data.push(c));
    req.on("close", () =>
      resolve({
        headers: got,
        trailers,
        messages: unframe(Buffer.concat(data)),
        code: Number((trailers ?? got)["grpc-status"]),
        rstCode: req.rstCode,
      }),
    );
    req.end(body);
  });
}

const msg = (text: string): Buffer => frame(Buffer.from(text, "latin1"));

describe("native transport: requests", () => {
  it("answers a unary call with headers, one message and OK trailers", async () => {
    const { server, port } = await start();
    expect(server.transport).toBe("native");
    const answer = await call(session(port), UNARY_PATH, msg("hello"));
    expect(answer.headers[":status"]).toBe(200);
    expect(answer.headers["content-type"]).toMatch(/^application\/grpc(\+proto)?$/);
    expect(answer.trailers?.["grpc-status"]).toBe("0");
    expect(answer.messages.map((m) => m.toString())).toEqual(["hello"]);
    expect(server.nativeCalls.served).toBe(1);
  });

  it("serves the typed grpc-js client natively", async () => {
    const { server, port } = await start();
    const Echo = makeGenericClientConstructor(echoService, "Echo");
    const client = new Echo(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as Client & {
      unary(req: Buffer, cb: (err: ServiceError | null, res?: Buffer) => void): void;
    };
    cleanups.push(() => client.close());
    const res = await new Promise<Buffer | undefined>((resolve, reject) =>
      client.unary(Buffer.from("typed"), (err, r) => (err ? reject(err) : resolve(r))),
    );
    expect(res?.toString()).toBe("typed");
    expect(server.nativeCalls.served).toBe(1);
  });

  it("takes a request over many DATA frames, PADDED DATA and PADDED+PRIORITY HEADERS", async () => {
    const { port } = await start();
    const client = await raw(port);
    const block = requestBlock(UNARY_PATH);
    // HEADERS: pad length 3, priority (5 bytes), block, 3 bytes of padding.
    const headers = Buffer.concat([Buffer.from([3]), Buffer.from([0, 0, 0, 0, 16]), block, Buffer.alloc(3)]);
    const body = msg("split into pieces");
    const frames = [rawFrame(T.HEADERS, F.END_HEADERS | F.PADDED | F.PRIORITY, 1, headers)];
    for (let at = 0; at < body.length; at += 3) {
      const piece = body.subarray(at, at + 3);
      const last = at + 3 >= body.length;
      const padded = Buffer.concat([Buffer.from([at % 7]), piece, Buffer.alloc(at % 7)]);
      frames.push(rawFrame(T.DATA, (last ? F.END_STREAM : 0) | F.PADDED, 1, padded));
    }
    client.write(...frames);
    const res = await client.response(1);
    expect(res.blocks[0]?.[":status"]).toBe("200");
    expect(res.blocks[1]?.["grpc-status"]).toBe("0");
    expect(unframe(res.data).map((m) => m.toString())).toEqual(["split into pieces"]);
  });

  it("takes a header block split over HEADERS and CONTINUATION frames", async () => {
    const { port } = await start();
    const client = await raw(port);
    const block = requestBlock(UNARY_PATH, { "x-filler": "f".repeat(300) });
    const third = Math.ceil(block.length / 3);
    client.write(
      rawFrame(T.HEADERS, 0, 1, block.subarray(0, third)),
      rawFrame(T.CONTINUATION, 0, 1, block.subarray(third, 2 * third)),
      rawFrame(T.CONTINUATION, F.END_HEADERS, 1, block.subarray(2 * third)),
      rawFrame(T.DATA, F.END_STREAM, 1, msg("continued")),
    );
    const res = await client.response(1);
    expect(res.blocks[1]?.["grpc-status"]).toBe("0");
    expect(unframe(res.data).map((m) => m.toString())).toEqual(["continued"]);
  });

  it("takes a request far larger than the stream window, sending WINDOW_UPDATEs (3 MiB)", async () => {
    const { port } = await start();
    const big = Buffer.alloc(3 * 1024 * 1024, 0x62);
    const answer = await call(session(port), UNARY_PATH, frame(big));
    expect(answer.code).toBe(status.OK);
    expect(answer.messages[0]?.equals(big)).toBe(true);
  });

  it("a raw client that only sends as the windows allow still gets a 2 MiB request through", async () => {
    const { port } = await start();
    const client = await raw(port);
    const body = frame(Buffer.alloc(2 * 1024 * 1024, 0x63));
    const settings = await client.waitFor((f) => f.type === T.SETTINGS && (f.flags & F.ACK) === 0);
    let streamWindow = 65535;
    for (let at = 0; at + 6 <= (settings?.payload.length ?? 0); at += 6) {
      if (settings?.payload.readUInt16BE(at) === 4) streamWindow = settings.payload.readUInt32BE(at + 2);
    }
    client.write(rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock(UNARY_PATH)));
    let sent = 0;
    let granted = streamWindow;
    let seen = 0; // WINDOW_UPDATE frames of stream 1 already counted
    while (sent < body.length) {
      const room = Math.min(granted - sent, 16384, body.length - sent);
      if (room > 0) {
        const last = sent + room === body.length;
        client.write(rawFrame(T.DATA, last ? F.END_STREAM : 0, 1, body.subarray(sent, sent + room)));
        sent += room;
        continue;
      }
      const updates = await client.waitFor(
        (f) => f.type === T.WINDOW_UPDATE && f.stream === 1 && client.frames.indexOf(f) >= seen,
      );
      expect(updates).toBeDefined();
      if (updates === undefined) return;
      seen = client.frames.indexOf(updates) + 1;
      granted += updates.payload.readUInt32BE(0);
    }
    const res = await client.response(1);
    expect(res.reset).toBeUndefined();
    expect(res.blocks.at(-1)?.["grpc-status"]).toBe("0");
    expect(res.data.length).toBe(body.length);
  });

  it.each([
    ["a server stream", STREAM_PATH, "400:1000", 400],
    ["a unary answer", UNARY_PATH, "big:300000", 1],
  ])("sends %s larger than the client's 1 KiB stream window completely", async (_kind, path, req, count) => {
    const { port } = await start();
    const answer = await call(session(port, { settings: { initialWindowSize: 1024 } }), path, msg(req));
    expect(answer.code).toBe(status.OK);
    expect(answer.messages.length).toBe(count);
    if (path === STREAM_PATH)
      expect(answer.messages.every((m, n) => m.length === 1000 && m[0] === (n & 255))).toBe(true);
    else expect(answer.messages[0]?.length).toBe(300000);
  });

  it("resumes a stream held by a zero window once the client raises INITIAL_WINDOW_SIZE", async () => {
    const { port } = await start();
    const client = await raw(port, { settings: [[4, 0]] });
    client.write(
      rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock(STREAM_PATH)),
      rawFrame(T.DATA, F.END_STREAM, 1, msg("3:100")),
    );
    await client.waitFor((f) => f.type === T.HEADERS && f.stream === 1);
    expect(client.frames.some((f) => f.type === T.DATA && f.stream === 1 && f.payload.length > 0)).toBe(false);
    client.write(rawFrame(T.SETTINGS, 0, 0, settingsPayload([[4, 65535]])));
    const res = await client.response(1);
    expect(unframe(res.data).length).toBe(3);
    expect(res.blocks.at(-1)?.["grpc-status"]).toBe("0");
  });

  it("sends response headers and trailers larger than a frame as HEADERS + CONTINUATION", async () => {
    const { port } = await start();
    const client = await raw(port);
    client.write(
      rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock(UNARY_PATH)),
      rawFrame(T.DATA, F.END_STREAM, 1, msg("meta:20000")),
    );
    const res = await client.response(1);
    expect(res.blocks[0]?.["x-big-header"]).toBe("h".repeat(20000));
    expect(res.blocks[1]?.["x-big-trailer"]).toBe("t".repeat(20000));
    expect(res.blocks[1]?.["grpc-status"]).toBe("0");
    expect(client.frames.filter((f) => f.type === T.CONTINUATION).length).toBeGreaterThanOrEqual(2);
    expect(client.frames.every((f) => f.payload.length <= 16384)).toBe(true);
  });
});

describe("native transport: connection frames", () => {
  it("answers PING with a PING ACK carrying the same payload", async () => {
    const { port } = await start();
    const client = await raw(port);
    const payload = Buffer.from("pingpong");
    client.write(rawFrame(T.PING, 0, 0, payload));
    const ack = await client.waitFor((f) => f.type === T.PING);
    expect(ack?.flags).toBe(F.ACK);
    expect(ack?.payload.equals(payload)).toBe(true);
    const s = session(port);
    await new Promise((resolve) => s.once("connect", resolve)); // Node cancels a ping sent before
    await new Promise<void>((resolve, reject) => s.ping((err) => (err ? reject(err) : resolve())));
  });

  it("closes a connection with a bad preface, and still serves the next client", async () => {
    const { port } = await start();
    const client = await raw(port, { preface: false });
    client.write(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await client.waitClosed();
    expect(client.frames.some((f) => f.type === T.HEADERS)).toBe(false);
    expect((await call(session(port), UNARY_PATH, msg("after"))).code).toBe(status.OK);
  });

  it("answers a frame longer than 16384 bytes with GOAWAY FRAME_SIZE_ERROR", async () => {
    const { port } = await start();
    const client = await raw(port);
    client.write(rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock(UNARY_PATH)));
    client.write(rawFrame(T.DATA, 0, 1, Buffer.alloc(16385)));
    const goaway = await client.waitFor((f) => f.type === T.GOAWAY);
    expect(goaway?.payload.readUInt32BE(4)).toBe(h2.NGHTTP2_FRAME_SIZE_ERROR);
    await client.waitClosed();
  });

  it("answers a header block above twice the header list limit with GOAWAY", async () => {
    const { port } = await start({ limits: { maxHeaderListBytes: 16 * 1024 } });
    const client = await raw(port);
    const frames = [rawFrame(T.HEADERS, 0, 1, Buffer.alloc(16384, 0x82))];
    for (let i = 0; i < 4; i += 1) frames.push(rawFrame(T.CONTINUATION, 0, 1, Buffer.alloc(16384, 0x82)));
    client.write(...frames);
    const goaway = await client.waitFor((f) => f.type === T.GOAWAY);
    expect(goaway?.payload.readUInt32BE(4)).toBe(h2.NGHTTP2_ENHANCE_YOUR_CALM);
  });

  // The server's answer to a protocol violation: GOAWAY, or a PING ACK (the PING sent after
  // the violation) when it let the violation pass.
  async function answerTo(client: RawClient, ...frames: Buffer[]): Promise<number | "ignored"> {
    client.write(...frames, rawFrame(T.PING, 0, 0, Buffer.from("afterall")));
    const f = await client.waitFor((x) => x.type === T.GOAWAY || (x.type === T.PING && (x.flags & F.ACK) !== 0));
    return f?.type === T.GOAWAY ? f.payload.readUInt32BE(4) : "ignored";
  }

  it.each([
    ["DATA on stream 0", () => rawFrame(T.DATA, 0, 0, Buffer.from("x"))],
    ["HEADERS on an even stream", () => rawFrame(T.HEADERS, F.END_HEADERS, 2, requestBlock(UNARY_PATH))],
    ["a CONTINUATION without HEADERS", () => rawFrame(T.CONTINUATION, F.END_HEADERS, 1, Buffer.from([0x82]))],
    ["GOAWAY on a stream", () => rawFrame(T.GOAWAY, 0, 1, Buffer.alloc(8))],
    ["PING on a stream", () => rawFrame(T.PING, 0, 1, Buffer.alloc(8))],
    ["RST_STREAM on an idle stream", () => rawFrame(T.RST_STREAM, 0, 9, Buffer.alloc(4))],
    ["WINDOW_UPDATE on an idle stream", () => rawFrame(T.WINDOW_UPDATE, 0, 9, Buffer.from([0, 0, 0, 1]))],
  ])("answers %s with GOAWAY PROTOCOL_ERROR", async (_name, bad) => {
    const { port } = await start();
    expect(await answerTo(await raw(port), bad())).toBe(h2.NGHTTP2_PROTOCOL_ERROR);
  });

  // Found by native-transport-fuzz.test.ts: a zero-length GOAWAY was taken as a graceful one.
  it.each([
    ["a GOAWAY shorter than 8 bytes", () => rawFrame(T.GOAWAY, 0, 0, Buffer.alloc(0))],
    ["a PING of 7 bytes", () => rawFrame(T.PING, 0, 0, Buffer.alloc(7))],
    ["a SETTINGS ACK with a payload", () => rawFrame(T.SETTINGS, F.ACK, 0, Buffer.alloc(6))],
    ["an RST_STREAM of 3 bytes", () => rawFrame(T.RST_STREAM, 0, 1, Buffer.alloc(3))],
  ])("answers %s with GOAWAY FRAME_SIZE_ERROR", async (_name, bad) => {
    const { port } = await start();
    const client = await raw(port);
    client.write(rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock(UNARY_PATH)));
    expect(await answerTo(client, bad())).toBe(h2.NGHTTP2_FRAME_SIZE_ERROR);
    await client.waitClosed();
  });

  it("resets a stream whose PRIORITY is malformed or depends on itself, and keeps the connection", async () => {
    const { port } = await start();
    const client = await raw(port);
    const selfDependent = Buffer.from([0, 0, 0, 1, 16]);
    client.write(
      rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock(UNARY_PATH)),
      rawFrame(T.HEADERS, F.END_HEADERS, 3, requestBlock(UNARY_PATH)),
      rawFrame(T.PRIORITY, 0, 1, selfDependent),
      rawFrame(T.PRIORITY, 0, 3, Buffer.alloc(4)),
    );
    expect((await client.response(1)).reset).toBe(h2.NGHTTP2_PROTOCOL_ERROR);
    expect((await client.response(3)).reset).toBe(h2.NGHTTP2_FRAME_SIZE_ERROR);
    expect(await answerTo(client)).toBe("ignored");
  });

  it("answers a connection window overflow with GOAWAY FLOW_CONTROL_ERROR", async () => {
    const { port } = await start();
    const increment = Buffer.alloc(4);
    increment.writeUInt32BE(0x7fffffff);
    expect(await answerTo(await raw(port), rawFrame(T.WINDOW_UPDATE, 0, 0, increment))).toBe(
      h2.NGHTTP2_FLOW_CONTROL_ERROR,
    );
  });

  // RFC 9113 5.1.1: a stream id lower than one already used is a connection error.
  it("answers HEADERS reusing a closed stream's id with a connection error", async () => {
    const { port } = await start();
    const client = await raw(port);
    client.write(
      rawFrame(T.HEADERS, F.END_HEADERS, 3, requestBlock(UNARY_PATH)),
      rawFrame(T.DATA, F.END_STREAM, 3, msg("three")),
    );
    expect((await client.response(3)).blocks.at(-1)?.["grpc-status"]).toBe("0");
    const answer = await answerTo(
      client,
      rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock(UNARY_PATH)),
      rawFrame(T.DATA, F.END_STREAM, 1, msg("one")),
    );
    expect(answer).not.toBe("ignored");
  });

  // RFC 9113 8.2.1: a field name with uppercase letters makes the request malformed (stream
  // error PROTOCOL_ERROR). Streams the proxy takes are reset; a fast unary call must be too.
  it.each([
    ["a proxied path", "/test.Echo/Nope"],
    ["a fast unary path", UNARY_PATH],
    ["a fast stream path", STREAM_PATH],
  ])("resets a request with an uppercase header name on %s", async (_name, path) => {
    const { port } = await start();
    const client = await raw(port);
    client.write(
      rawFrame(T.HEADERS, F.END_HEADERS, 1, Buffer.concat([requestBlock(path), Buffer.from("\x00\x07X-Upper\x01v")])),
      rawFrame(T.DATA, F.END_STREAM, 1, msg("1:1")),
    );
    expect((await client.response(1)).reset).toBe(h2.NGHTTP2_PROTOCOL_ERROR);
  });

  it("refuses streams above grpc.max_concurrent_streams with REFUSED_STREAM", async () => {
    const { port, state } = await start({ grpcOptions: { "grpc.max_concurrent_streams": 1 } });
    const client = await raw(port);
    const settings = await client.waitFor((f) => f.type === T.SETTINGS && (f.flags & F.ACK) === 0);
    const advertised: number[] = [];
    for (let at = 0; at + 6 <= (settings?.payload.length ?? 0); at += 6) {
      if (settings?.payload.readUInt16BE(at) === 3) advertised.push(settings.payload.readUInt32BE(at + 2));
    }
    expect(advertised).toEqual([1]);
    client.write(
      rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock(UNARY_PATH)),
      rawFrame(T.DATA, F.END_STREAM, 1, msg("hold")),
    );
    await until(() => state.entered === 1);
    client.write(
      rawFrame(T.HEADERS, F.END_HEADERS, 3, requestBlock(UNARY_PATH)),
      rawFrame(T.DATA, F.END_STREAM, 3, msg("second")),
    );
    const refused = await client.response(3);
    expect(refused.reset).toBe(h2.NGHTTP2_REFUSED_STREAM);
    state.release();
    const first = await client.response(1);
    expect(unframe(first.data).map((m) => m.toString())).toEqual(["released"]);
    // Room again: a third stream is served.
    client.write(
      rawFrame(T.HEADERS, F.END_HEADERS, 5, requestBlock(UNARY_PATH)),
      rawFrame(T.DATA, F.END_STREAM, 5, msg("third")),
    );
    expect(unframe((await client.response(5)).data).map((m) => m.toString())).toEqual(["third"]);
  });
});

describe("native transport: cancellation and deadlines", () => {
  it("a client RST_STREAM mid server-stream cancels the call", async () => {
    const { port, state } = await start();
    const s = session(port);
    const req = s.request({ ":method": "POST", ":path": STREAM_PATH, "content-type": "application/grpc" });
    req.on("error", () => undefined);
    req.end(msg("hold"));
    await new Promise((resolve) => req.once("data", resolve));
    req.close(h2.NGHTTP2_CANCEL);
    await until(() => state.cancelled === 1);
    expect((await call(s, UNARY_PATH, msg("still here"))).code).toBe(status.OK);
  });

  it("a client that vanishes mid-stream cancels the call, and the next client is served", async () => {
    const { port, state } = await start();
    const client = await raw(port);
    client.write(
      rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock(STREAM_PATH)),
      rawFrame(T.DATA, F.END_STREAM, 1, msg("hold")),
    );
    await client.waitFor((f) => f.type === T.DATA && f.stream === 1);
    client.close();
    await until(() => state.cancelled === 1);
    expect((await call(session(port), UNARY_PATH, msg("next"))).code).toBe(status.OK);
  });

  it.each([
    ["unary", UNARY_PATH, "x", "x"],
    ["server stream", STREAM_PATH, "1:1", "hold"],
  ])("a malformed grpc-timeout is INTERNAL, an expired one DEADLINE_EXCEEDED (%s)", async (_kind, path, ok, slow) => {
    const { port } = await start();
    const s = session(port);
    expect((await call(s, path, msg(ok), { "grpc-timeout": "soon" })).code).toBe(status.INTERNAL);
    expect((await call(s, path, msg(ok), { "grpc-timeout": "123456789S" })).code).toBe(status.INTERNAL);
    expect((await call(s, path, msg(slow), { "grpc-timeout": "1n" })).code).toBe(status.DEADLINE_EXCEEDED);
    expect((await call(s, path, msg(ok), { "grpc-timeout": "10S" })).code).toBe(status.OK);
  });
});

describe("native transport: the grpc-js proxy", () => {
  it("answers an unknown method UNIMPLEMENTED through grpc-js", async () => {
    const { server, port } = await start();
    const answer = await call(session(port), "/test.Echo/Nope", msg("?"));
    expect(answer.code).toBe(status.UNIMPLEMENTED);
    expect(server.nativeCalls.forwarded).toBe(1);
  });

  it("serves grpc health Check through the proxy", async () => {
    const { server, port } = await start();
    const Health = makeGenericClientConstructor(healthService as unknown as ServiceDefinition, "Health");
    const health = new Health(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as Client & {
      check(request: { service: string }, cb: (err: ServiceError | null, res?: { status: string }) => void): void;
    };
    cleanups.push(() => health.close());
    const answer = await new Promise<string | undefined>((resolve) =>
      health.check({ service: "" }, (err, res) => resolve(err ? err.message : res?.status)),
    );
    expect(answer).toBe("SERVING");
    expect(server.nativeCalls.forwarded).toBe(1);
  });

  // grpc-js would serve these (it checks neither the method nor the content-type's subtype, and reads the last
  // eight digits of a longer grpc-timeout): they are answered before they are forwarded.
  it.each([
    ["a GET on a native unary route", UNARY_PATH, { ":method": "GET" }, 405],
    ["a PUT on a native stream route", STREAM_PATH, { ":method": "PUT" }, 405],
    ["a GET on a forwarded method", "/test.Echo/Nope", { ":method": "GET" }, 405],
    ["content-type application/grpcx", UNARY_PATH, { "content-type": "application/grpcx" }, 415],
    ["content-type text/plain on a forwarded method", "/test.Echo/Nope", { "content-type": "text/plain" }, 415],
  ])("answers %s with HTTP %d, and serves nothing", async (_, path, headers, httpStatus) => {
    const { server, port, state } = await start();
    const answer = await call(session(port), path, msg("1:1"), headers);
    expect(answer.headers[":status"]).toBe(httpStatus);
    expect(answer.code).not.toBe(status.OK);
    expect(answer.messages).toEqual([]);
    expect(state.entered).toBe(0);
    expect(server.nativeCalls.forwarded).toBe(0);
  });

  it("answers a malformed grpc-timeout on a forwarded call INTERNAL, as on a native one", async () => {
    const { server, port } = await start();
    const s = session(port);
    for (const path of ["/test.Echo/Nope", UNARY_PATH]) {
      const answer = await call(s, path, msg("x"), { "grpc-timeout": "123456789S" });
      expect(answer.code).toBe(status.INTERNAL);
      expect(answer.headers["grpc-message"]).toBe('Invalid grpc-timeout value "123456789S"');
    }
    expect(server.nativeCalls.forwarded).toBe(0);
  });

  // gRPC's compression spec: a message compressed with an encoding the server does not support gets UNIMPLEMENTED,
  // and "The server will then include a grpc-accept-encoding response header which specifies the algorithms that
  // the server accepts". grpc-js sends that answer (trailers-only) without it.
  it("answers a message compressed with an unknown encoding UNIMPLEMENTED with grpc-accept-encoding", async () => {
    const { port } = await start();
    const compressed = msg("x");
    compressed[0] = 1;
    const answer = await call(session(port), UNARY_PATH, compressed, { "grpc-encoding": "br" });
    expect(answer.code).toBe(status.UNIMPLEMENTED);
    expect(answer.headers["grpc-accept-encoding"]).toBe("identity,deflate,gzip");
  });

  // grpc-js takes a flags byte of 2, and a compressed flag on a call without grpc-encoding, as an uncompressed
  // message, and a request ending inside a message as one without a message (UNIMPLEMENTED): the forwarded calls
  // are answered as the native routes answer them (PROTOCOL-HTTP2: Compressed-Flag → 0 / 1; "If the
  // Message-Encoding header is omitted then the Compressed-Flag must be 0").
  it.each([
    ["a flags byte of 2", Buffer.from([2, 0, 0, 0, 0]), {}, status.INTERNAL],
    ["a compressed flag without grpc-encoding", Buffer.from([1, 0, 0, 0, 0]), {}, status.INTERNAL],
    ["a request that ends inside a message", Buffer.from([0, 0, 0, 0, 10, 1, 2, 3]), {}, status.INTERNAL],
    ["a request that ends inside a prefix", Buffer.from([0, 0, 0]), {}, status.INTERNAL],
    ["a length over the message limit", Buffer.from([0, 0, 0x50, 0, 0]), {}, status.RESOURCE_EXHAUSTED],
  ])("answers a forwarded call with %s as a native route does", async (_, body, headers, code) => {
    const { port } = await start();
    const answer = await call(session(port), "/grpc.health.v1.Health/Check", body, headers);
    expect(answer.code).toBe(code);
    expect(answer.messages).toEqual([]);
  });

  it("forwards a call whose messages come a byte per DATA frame", async () => {
    const { port } = await start();
    const client = await raw(port);
    const body = Buffer.from([0, 0, 0, 0, 0]); // an empty HealthCheckRequest: the server's overall health
    client.write(rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock("/grpc.health.v1.Health/Check")));
    for (const [i, byte] of body.entries()) {
      client.write(rawFrame(T.DATA, i === body.length - 1 ? F.END_STREAM : 0, 1, Buffer.from([byte])));
    }
    const response = await client.response(1);
    expect(response.blocks.at(-1)?.["grpc-status"]).toBe("0");
    expect(response.data.subarray(5)).toEqual(Buffer.from([0x08, 0x01])); // status: SERVING
  });

  it("relays a large proxied (compressed-capable) server stream to a 1 KiB-window client", async () => {
    const { server, port } = await start();
    const s = session(port, { settings: { initialWindowSize: 1024 } });
    const answer = await call(s, STREAM_PATH, msg("300:1000"), { "grpc-encoding": "gzip" });
    expect(answer.code).toBe(status.OK);
    expect(answer.messages.length).toBe(300);
    expect(server.nativeCalls.forwarded).toBe(1);
  });

  it("shuts down without waiting for the grace period after a proxied call", async () => {
    const warnings: string[] = [];
    const logger: Logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (_f, m) => warnings.push(m ?? ""),
      error: () => undefined,
    };
    const { server, port } = await start({ logger, shutdownTimeoutMs: 5000 });
    const s = session(port);
    expect((await call(s, "/test.Echo/Nope", msg("?"))).code).toBe(status.UNIMPLEMENTED);
    s.close();
    await server.shutdown();
    expect(warnings).toEqual([]);
  });
});

describe("native transport: shutdown", () => {
  it("graceful shutdown sends GOAWAY and lets an in-flight call finish", async () => {
    const { server, port, state } = await start();
    const s = session(port);
    const goaway = new Promise<number>((resolve) => s.once("goaway", (code: number) => resolve(code)));
    const inFlight = call(s, UNARY_PATH, msg("hold"));
    await until(() => state.entered === 1);
    let stopped = false;
    const stopping = server.shutdown().then(() => (stopped = true));
    expect(await goaway).toBe(h2.NGHTTP2_NO_ERROR);
    expect(stopped).toBe(false);
    state.release();
    const answer = await inFlight;
    expect(answer.code).toBe(status.OK);
    expect(answer.messages.map((m) => m.toString())).toEqual(["released"]);
    await stopping;
  });

  it("forceShutdown cancels an in-flight call", async () => {
    const { server, port, state } = await start();
    const s = session(port);
    const inFlight = call(s, STREAM_PATH, msg("hold"));
    await until(() => state.entered === 1);
    server.forceShutdown();
    const answer = await inFlight;
    expect(answer.code).not.toBe(status.OK);
    await until(() => state.cancelled === 1);
  });
});

// ---- TLS --------------------------------------------------------------------

function selfSigned(): { cert: string; key: string } {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = "01";
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3600_000);
  const attrs = [{ name: "commonName", value: "localhost" }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: "basicConstraints", cA: true },
    { name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keyPem };
}

describe("native transport over TLS", () => {
  it("serves h2 negotiated by ALPN and disconnects a client offering only http/1.1", async () => {
    const pem = selfSigned();
    const creds = createTlsCredentials({ key: pem.key, cert: pem.cert });
    const { server, port } = await start({ credentials: creds });
    expect(server.transport).toBe("native");
    const s = session(port, { ca: pem.cert }, "https");
    const answer = await call(s, UNARY_PATH, msg("secure"));
    expect(answer.code).toBe(status.OK);
    expect(answer.messages.map((m) => m.toString())).toEqual(["secure"]);

    const socket = connectTls({ host: "127.0.0.1", port, ca: pem.cert, ALPNProtocols: ["http/1.1"] });
    cleanups.push(() => socket.destroy());
    const received: Buffer[] = [];
    socket.on("data", (c: Buffer) => received.push(c));
    socket.on("error", () => undefined);
    socket.once("secureConnect", () => socket.write(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
    await new Promise((resolve) => socket.once("close", resolve));
    expect(Buffer.concat(received).length).toBe(0);
  });

  // A TLS 1.2 client of the test server's self-signed certificate, offering h2.
  const tls12 = (port: number, ca: string): ConnectionOptions => ({
    host: "127.0.0.1",
    port,
    ca,
    servername: "localhost",
    ALPNProtocols: ["h2"],
    maxVersion: "TLSv1.2",
  });

  // RFC 9113 9.2.2: "A deployment of HTTP/2 over TLS 1.2 SHOULD NOT use any of the prohibited cipher suites
  // listed in [Appendix A]", and every HTTP/2 client supports TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256.
  it("over TLS 1.2, negotiates no cipher suite RFC 9113 prohibits, and serves one it requires", async () => {
    const pem = selfSigned();
    const { port } = await start({ credentials: createTlsCredentials({ key: pem.key, cert: pem.cert }) });
    const handshake = (ciphers: string): Promise<string> =>
      new Promise((resolve) => {
        const socket = connectTls({ ...tls12(port, pem.cert), ciphers });
        cleanups.push(() => socket.destroy());
        socket.once("secureConnect", () => resolve(socket.getCipher().standardName));
        socket.once("error", () => resolve("refused"));
      });
    expect(await handshake("ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES128-SHA:AES128-GCM-SHA256")).toBe("refused");
    expect(await handshake("ECDHE-RSA-AES128-GCM-SHA256")).toBe("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    const s = session(port, { ca: pem.cert, maxVersion: "TLSv1.2" }, "https");
    expect((await call(s, UNARY_PATH, msg("tls 1.2"))).code).toBe(status.OK);
  });

  // RFC 9113 9.2.1: "An endpoint MUST treat a TLS renegotiation as a connection error (Section 5.4.1) of type
  // PROTOCOL_ERROR." Node's TLS server would take a few renegotiations.
  it("closes a TLS 1.2 connection whose client renegotiates", async () => {
    const pem = selfSigned();
    const { port } = await start({ credentials: createTlsCredentials({ key: pem.key, cert: pem.cert }) });
    const socket = connectTls(tls12(port, pem.cert));
    cleanups.push(() => socket.destroy());
    socket.on("error", () => undefined);
    socket.on("data", () => undefined);
    await new Promise((resolve) => socket.once("secureConnect", resolve));
    socket.write(Buffer.concat([PREFACE, rawFrame(T.SETTINGS, 0, 0)]));
    const outcome = await new Promise<string>((resolve) => {
      socket.once("close", () => resolve("closed"));
      socket.renegotiate({}, (err) => resolve(err ? "failed" : "renegotiated"));
    });
    expect(outcome).not.toBe("renegotiated");
    if (!socket.closed) await new Promise((resolve) => socket.once("close", resolve));
  });
});

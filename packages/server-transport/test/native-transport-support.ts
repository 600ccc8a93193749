// Test support of the native transport tests: a test service served on the fast
// path (raw bytes in and out), and a raw HTTP/2 client over a net socket that
// writes frames by hand and collects every frame the server sends.
import { expect } from "@jest/globals";
import { createInsecureCredentials, type OffloadCredentials } from "../src";
import { EventEmitter } from "node:events";
import { connect as connectH2, type ClientHttp2Session } from "node:http2";
import { connect as connectNet, type Socket } from "node:net";
import { createRequire } from "node:module";
import {
  Metadata,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type MethodDefinition,
  type ServerOptions,
  type ServiceDefinition,
} from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import {
  createNativeRoute,
  createOffloadServer,
  type OffloadServer,
  type OffloadTransport,
  type TransportLimits,
} from "../src";
import type { Logger } from "@sessionoffload/offload-api";
import { encodeHeaderBlock } from "../src/h2/hpack-encoder";

export const UNARY_PATH = "/test.Echo/Unary";
export const STREAM_PATH = "/test.Echo/Stream";

const identity = (b: Buffer): Buffer => b;
/** A method of raw byte messages (no serialization): unary, or server-streaming when `responseStream`. */
export function bytesMethod(path: string, responseStream: boolean): MethodDefinition<Buffer, Buffer> {
  return {
    path,
    requestStream: false,
    responseStream,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}
export const unaryMethod = bytesMethod(UNARY_PATH, false);
export const streamMethod = bytesMethod(STREAM_PATH, true);
export const echoService: ServiceDefinition = { unary: unaryMethod, stream: streamMethod };

/** What the test handlers saw, and a gate that holds "hold" calls. */
export interface EchoState {
  entered: number;
  cancelled: number;
  release(): void;
}

/**
 * The handlers. Unary: "hold" waits for `release()`; "big:N" answers N bytes;
 * "meta:N" answers "ok" with N-byte custom response metadata and trailers;
 * anything else is echoed. Stream: "COUNT:SIZE" writes COUNT messages of SIZE
 * bytes (byte i of message n is n & 255), minding backpressure; "hold" writes
 * one message and waits until cancelled.
 */
export function echoHandlers(state: EchoState): {
  unary: handleUnaryCall<Buffer, Buffer>;
  stream: handleServerStreamingCall<Buffer, Buffer>;
} {
  let gate = new Promise<void>((resolve) => (state.release = resolve));
  return {
    unary: (call, callback) => {
      state.entered += 1;
      const text = call.request.toString("latin1");
      if (text === "hold") {
        void gate.then(() => {
          if (call.cancelled) state.cancelled += 1;
          callback(null, Buffer.from("released"));
        });
        gate = gate.then(() => undefined);
        return;
      }
      if (text.startsWith("big:")) {
        callback(null, Buffer.alloc(Number(text.slice(4)), 0x61));
        return;
      }
      if (text.startsWith("meta:")) {
        const size = Number(text.slice(5));
        const headers = new Metadata();
        headers.set("x-big-header", "h".repeat(size));
        call.sendMetadata(headers);
        const trailers = new Metadata();
        trailers.set("x-big-trailer", "t".repeat(size));
        callback(null, Buffer.from("ok"), trailers);
        return;
      }
      callback(null, call.request);
    },
    stream: (call) => {
      state.entered += 1;
      const text = call.request.toString("latin1");
      call.on("cancelled", () => (state.cancelled += 1));
      if (text === "hold") {
        call.write(Buffer.from("first"));
        return;
      }
      const [count, size] = text.split(":").map(Number) as [number, number];
      let n = 0;
      const pump = (): void => {
        while (n < count && !call.cancelled) {
          const ok = call.write(Buffer.alloc(size, n & 255));
          n += 1;
          if (!ok) {
            call.once("drain", pump);
            return;
          }
        }
        if (!call.cancelled) call.end();
      };
      pump();
    },
  };
}

/** Options of `startEchoServer`. */
export interface EchoServerOptions {
  readonly credentials?: OffloadCredentials;
  readonly grpcOptions?: ServerOptions;
  readonly shutdownTimeoutMs?: number;
  readonly logger?: Logger;
  /** Default: the native transport. */
  readonly transport?: OffloadTransport;
  /** Limits of the native transport. */
  readonly limits?: Partial<TransportLimits>;
}

/** A server (native transport unless told) of the echo service plus health; listening on 127.0.0.1. */
export async function startEchoServer(
  options: EchoServerOptions = {},
): Promise<{ server: OffloadServer; port: number; state: EchoState }> {
  const state: EchoState = { entered: 0, cancelled: 0, release: () => undefined };
  const handlers = echoHandlers(state);
  const server = createOffloadServer({
    credentials: options.credentials ?? createInsecureCredentials(),
    install: (s) => s.addService(echoService, handlers),
    addOns: [new HealthImplementation({ "": "SERVING" })],
    nativeRoutes: [createNativeRoute(unaryMethod, handlers.unary), createNativeRoute(streamMethod, handlers.stream)],
    grpcOptions: options.grpcOptions,
    shutdownTimeoutMs: options.shutdownTimeoutMs,
    logger: options.logger,
    transport: options.transport,
    limits: options.limits,
  });
  const port = await server.listen("127.0.0.1:0");
  return { server, port, state };
}

// ---- raw HTTP/2 ----------------------------------------------------------------

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
export const T = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;
export const F = { END_STREAM: 1, ACK: 1, END_HEADERS: 4, PADDED: 8, PRIORITY: 0x20 } as const;

/** One frame. */
export interface RawFrame {
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
  readonly payload: Buffer;
}

/** Encodes one frame. */
/** `value` as 4 bytes, big-endian (a frame field or a setting's value). */
export function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
}

export function rawFrame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** A SETTINGS payload. */
export function settingsPayload(entries: ReadonlyArray<readonly [number, number]>): Buffer {
  const out = Buffer.alloc(6 * entries.length);
  entries.forEach(([id, value], i) => {
    out.writeUInt16BE(id, 6 * i);
    out.writeUInt32BE(value, 6 * i + 2);
  });
  return out;
}

/** A gRPC request header block (literals without indexing). */
export function requestBlock(path: string, extra: Record<string, string> = {}): Buffer {
  return encodeHeaderBlock({
    ":method": "POST",
    ":scheme": "http",
    ":path": path,
    ":authority": "127.0.0.1",
    "content-type": "application/grpc",
    te: "trailers",
    ...extra,
  });
}

interface HpackJsDecompressor {
  write(data: Buffer): void;
  execute(): void;
  read(): { name: string; value: string } | null;
}
const hpackJs = createRequire(__filename)("hpack.js") as {
  decompressor: { create(options: { table: { maxSize: number } }): HpackJsDecompressor };
};

/** A raw HTTP/2 client: frames in and out by hand; header blocks decoded with hpack.js. */
export class RawClient extends EventEmitter {
  readonly frames: RawFrame[] = [];
  closed = false;
  /** Send WINDOW_UPDATEs for the DATA received (default); false to let the server's windows run out. */
  autoWindow = true;
  private input = Buffer.alloc(0);
  private readonly decompressor = hpackJs.decompressor.create({ table: { maxSize: 4096 } });
  // Header blocks are decoded as they come, in connection order (the server's blocks may use the dynamic table):
  // the decoded fields by the frame that ended each block, and the parts of a block still open.
  private readonly decoded = new Map<RawFrame, Record<string, string>>();
  private openBlock: Buffer[] | undefined;

  private constructor(readonly socket: Socket) {
    super();
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      this.closed = true;
      this.emit("change");
    });
  }

  /** Connects; sends the preface and `settings` unless `preface` is false. */
  static async connect(
    port: number,
    options: { preface?: boolean; settings?: ReadonlyArray<readonly [number, number]> } = {},
  ): Promise<RawClient> {
    const socket = connectNet({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const client = new RawClient(socket);
    if (options.preface !== false) {
      client.write(PREFACE, rawFrame(T.SETTINGS, 0, 0, settingsPayload(options.settings ?? [])));
    }
    return client;
  }

  write(...chunks: Buffer[]): void {
    this.socket.write(Buffer.concat(chunks));
  }

  /** Resolves with the first frame (from the start) matching `predicate`, or undefined once the socket closed. */
  async waitFor(predicate: (f: RawFrame) => boolean): Promise<RawFrame | undefined> {
    for (;;) {
      const found = this.frames.find(predicate);
      if (found !== undefined || this.closed) return found;
      await new Promise((resolve) => this.once("change", resolve));
    }
  }

  /** Resolves once the socket has closed. */
  async waitClosed(): Promise<void> {
    while (!this.closed) await new Promise((resolve) => this.once("change", resolve));
  }

  // Decodes a header block with hpack.js (the client's one decoder: called in frame order, on receipt).
  private decodeHeaders(block: Buffer): Record<string, string> {
    this.decompressor.write(block);
    this.decompressor.execute();
    const out: Record<string, string> = {};
    for (let h = this.decompressor.read(); h !== null; h = this.decompressor.read()) out[h.name] = h.value;
    return out;
  }

  /** The whole response of `stream`: header blocks (HEADERS + CONTINUATION joined) in order, and DATA bytes. */
  async response(stream: number): Promise<{ blocks: Record<string, string>[]; data: Buffer; reset?: number }> {
    const end = await this.waitFor(
      (f) =>
        f.stream === stream &&
        (f.type === T.RST_STREAM ||
          ((f.type === T.HEADERS || f.type === T.DATA) && (f.flags & F.END_STREAM) !== 0 && this.headersDone(f))),
    );
    const blocks: Record<string, string>[] = [];
    const data: Buffer[] = [];
    let reset: number | undefined;
    let pending: Buffer[] | undefined;
    for (const f of this.frames) {
      if (f.stream !== stream) continue;
      if (f.type === T.DATA) data.push(f.payload);
      if (f.type === T.RST_STREAM) reset = f.payload.readUInt32BE(0);
      if (f.type === T.HEADERS) pending = [f.payload];
      if (f.type === T.CONTINUATION) pending?.push(f.payload);
      if ((f.type === T.HEADERS || f.type === T.CONTINUATION) && f.flags & F.END_HEADERS && pending) {
        blocks.push(this.decodedBlock(f));
        pending = undefined;
      }
      if (f === end) break;
    }
    // The frame that ended the stream may open a header block that CONTINUATION frames finish.
    for (const f of this.frames.slice(end === undefined ? this.frames.length : this.frames.indexOf(end) + 1)) {
      if (pending === undefined) break;
      if (f.stream !== stream || f.type !== T.CONTINUATION) continue;
      pending.push(f.payload);
      if (f.flags & F.END_HEADERS) {
        blocks.push(this.decodedBlock(f));
        pending = undefined;
      }
    }
    return { blocks, data: Buffer.concat(data), reset };
  }

  // The fields of the header block that `last` ended.
  private decodedBlock(last: RawFrame): Record<string, string> {
    const fields = this.decoded.get(last);
    if (fields === undefined) throw new Error(`no decoded header block ends with this frame (stream ${last.stream})`);
    return fields;
  }

  // Whether the header block a HEADERS frame starts has ended (by it or a later CONTINUATION).
  private headersDone(f: RawFrame): boolean {
    if (f.type !== T.HEADERS || f.flags & F.END_HEADERS) return true;
    const at = this.frames.indexOf(f);
    return this.frames.slice(at + 1).some((c) => c.type === T.CONTINUATION && (c.flags & F.END_HEADERS) !== 0);
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.input = Buffer.concat([this.input, chunk]);
    while (this.input.length >= 9) {
      const length = this.input.readUIntBE(0, 3);
      if (this.input.length < 9 + length) break;
      const f: RawFrame = {
        type: this.input[3] as number,
        flags: this.input[4] as number,
        stream: this.input.readUInt32BE(5) & 0x7fffffff,
        payload: Buffer.from(this.input.subarray(9, 9 + length)),
      };
      this.input = this.input.subarray(9 + length);
      this.frames.push(f);
      if (f.type === T.HEADERS) this.openBlock = [f.payload];
      else if (f.type === T.CONTINUATION) this.openBlock?.push(f.payload);
      if ((f.type === T.HEADERS || f.type === T.CONTINUATION) && f.flags & F.END_HEADERS && this.openBlock) {
        this.decoded.set(f, this.decodeHeaders(Buffer.concat(this.openBlock)));
        this.openBlock = undefined;
      }
      if (f.type === T.SETTINGS && (f.flags & F.ACK) === 0) this.write(rawFrame(T.SETTINGS, F.ACK, 0));
      // Data read is data consumed: give the window back, for the stream and the connection.
      if (f.type === T.DATA && length > 0 && this.autoWindow) {
        const increment = Buffer.alloc(4);
        increment.writeUInt32BE(length);
        this.write(rawFrame(T.WINDOW_UPDATE, 0, 0, increment), rawFrame(T.WINDOW_UPDATE, 0, f.stream, increment));
      }
    }
    this.emit("change");
  }
}

/** A gRPC message: the 5-byte prefix (not compressed) and `body` (a string as latin1). */
export function grpcMessage(body: string | Buffer): Buffer {
  const bytes = typeof body === "string" ? Buffer.from(body, "latin1") : body;
  const out = Buffer.alloc(5 + bytes.length);
  out.writeUInt32BE(bytes.length, 1);
  bytes.copy(out, 5);
  return out;
}

/** One call of the echo server's unary method on `session`: the answer's bytes (prefix included) and its grpc-status. */
export function postUnary(
  session: ClientHttp2Session,
  body: string | Buffer,
): Promise<{ data: Buffer; status: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = session.request({
      ":method": "POST",
      ":path": UNARY_PATH,
      "content-type": "application/grpc",
      te: "trailers",
    });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("trailers", (t) => (status = String(t["grpc-status"])));
    req.on("error", reject);
    req.on("close", () => resolve({ data: Buffer.concat(chunks), status }));
    req.end(grpcMessage(body));
  });
}

/** A well-behaved client on its own connection to `port` (Node's http2), its errors ignored. */
export function wellBehavedSession(port: number): ClientHttp2Session {
  const s = connectH2(`http://127.0.0.1:${port}`);
  s.on("error", () => undefined);
  return s;
}

/** One echo call on `s`: resolves with its latency in ms, rejects unless it answered "ok" with grpc-status 0. */
export function echo(s: ClientHttp2Session): Promise<number> {
  const started = performance.now();
  return new Promise<number>((resolve, reject) => {
    const req = s.request({
      ":method": "POST",
      ":path": UNARY_PATH,
      "content-type": "application/grpc",
      te: "trailers",
    });
    const data: Buffer[] = [];
    let code: string | undefined;
    req.on("data", (chunk: Buffer) => data.push(chunk));
    req.on("trailers", (trailers) => (code = String(trailers["grpc-status"])));
    req.on("error", reject);
    req.on("close", () => {
      const body = Buffer.concat(data);
      if (code === "0" && body.subarray(5).toString() === "ok") resolve(performance.now() - started);
      else reject(new Error(`echo failed: status ${code}, ${body.length} bytes`));
    });
    req.end(grpcMessage("ok"));
  });
}

/**
 * Runs `attack` while the well-behaved session `s` keeps making echo calls:
 * every one of them must be answered within `livenessMs`; answers how many
 * it made and the heap + RSS growth across the attack, in bytes.
 */
export async function serveWhile(
  s: ClientHttp2Session,
  attack: () => Promise<void>,
  livenessMs: number,
): Promise<{ calls: number; grewBy: number }> {
  await echo(s); // connected and warm
  global.gc?.();
  const before = process.memoryUsage();
  let done = false;
  let calls = 0;
  let slowest = 0;
  const prober = (async () => {
    while (!done) {
      slowest = Math.max(slowest, await echo(s));
      calls += 1;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  try {
    await attack();
  } finally {
    done = true;
    await prober;
  }
  slowest = Math.max(slowest, await echo(s));
  const after = process.memoryUsage();
  expect(slowest).toBeLessThan(livenessMs);
  return { calls: calls + 1, grewBy: Math.max(after.rss - before.rss, after.heapUsed - before.heapUsed) };
}

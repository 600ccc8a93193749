import type { OffloadTransport } from "../src";
// Test support of the call tests: a raw HTTP/2 gRPC client that controls
// every byte (frames, headers, resets), and small helpers around it.
import { connect, constants as h2, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http2";
import { sessionsV1 } from "@sessionoffload/offload-api";
import type { handleClientStreamingCall, MethodDefinition } from "@grpc/grpc-js";

/** What a raw call got back. */
export interface RawResponse {
  readonly headers: IncomingHttpHeaders;
  /** Trailers, or undefined for a trailers-only response (then the status is in `headers`). */
  readonly trailers: IncomingHttpHeaders | undefined;
  /** The length-prefixed messages of the body, unframed. */
  readonly messages: Buffer[];
  /** grpc-status as a number (from trailers, or headers when trailers-only). */
  readonly code: number;
  /** grpc-message as sent (percent-encoded). */
  readonly message: string | undefined;
}

/** Options of `rawCall`. */
export interface RawCallOptions {
  /** Extra request headers (grpc-timeout, grpc-encoding, content-type override...). */
  readonly headers?: OutgoingHttpHeaders;
  /** Wait this long between body chunks, so that each goes out in its own DATA frame. */
  readonly gapMs?: number;
  /** Reset the stream (RST_STREAM CANCEL) this long after the last chunk instead of waiting for an answer. */
  readonly cancelAfterMs?: number;
}

/** Frames one message: flag byte (1 = compressed), 4-byte big-endian length, bytes. */
export function frame(message: Uint8Array, compressed = false): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** Splits framed messages from a body. */
export function unframe(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at + 5 <= body.length) {
    const length = body.readUInt32BE(at + 1);
    out.push(body.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  if (at !== body.length) throw new Error(`body ends inside a message (${body.length - at} bytes left)`);
  return out;
}

/** A valid addSession request's bytes; `n` varies the source port. */
export function addRequestBytes(n = 1, overrides: Partial<sessionsV1.sessionRequest> = {}): Uint8Array {
  return sessionsV1.sessionRequest
    .encode(
      sessionsV1.sessionRequest.fromPartial({
        inLif: "eth0",
        outLif: "eth1",
        ipVersion: sessionsV1.IP_VERSION._IPV4,
        sourceIp: Buffer.from([10, 0, 0, 1]),
        sourcePort: 1024 + n,
        destinationIp: Buffer.from([10, 0, 0, 2]),
        destinationPort: 443,
        protocolId: sessionsV1.PROTOCOL_ID._TCP,
        action: { actionType: sessionsV1.ACTION_TYPE._FORWARD, actionNextHop: "" },
        ...overrides,
      }),
    )
    .finish();
}

/**
 * Makes one gRPC call over a fresh plaintext HTTP/2 connection to
 * 127.0.0.1:port, writing `chunks` as the request body; resolves with what
 * came back, or undefined when `cancelAfterMs` reset the stream first.
 */
export async function rawCall(
  port: number,
  path: string,
  chunks: readonly Buffer[],
  options: RawCallOptions = {},
): Promise<RawResponse | undefined> {
  const session = connect(`http://127.0.0.1:${port}`);
  session.on("error", () => undefined);
  try {
    const req = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      ...options.headers,
    });
    req.on("error", () => undefined);
    const response = new Promise<RawResponse | undefined>((resolve) => {
      let headers: IncomingHttpHeaders = {};
      let trailers: IncomingHttpHeaders | undefined;
      const body: Buffer[] = [];
      req.on("response", (h) => (headers = h));
      req.on("trailers", (t) => (trailers = t));
      req.on("data", (c: Buffer) => body.push(c));
      req.on("close", () => {
        if (req.rstCode !== undefined && req.rstCode !== h2.NGHTTP2_NO_ERROR && headers[":status"] === undefined) {
          resolve(undefined);
          return;
        }
        const source = trailers ?? headers;
        resolve({
          headers,
          trailers,
          messages: unframe(Buffer.concat(body)),
          code: Number(source["grpc-status"]),
          message: source["grpc-message"] as string | undefined,
        });
      });
    });
    for (let i = 0; i < chunks.length; i += 1) {
      if (i > 0 && options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
      req.write(chunks[i]);
    }
    if (options.cancelAfterMs !== undefined) {
      await new Promise((r) => setTimeout(r, options.cancelAfterMs));
      req.close(h2.NGHTTP2_CANCEL);
    } else {
      req.end();
    }
    return await response;
  } finally {
    session.close();
  }
}

/** Resolves once `predicate()` holds, checking every few ms (bounded by Jest's timeout). */
export async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((r) => setTimeout(r, 5));
}

/** The transport the shared call tests run on: "native", or "grpc-js" when OFFLOAD_TEST_TRANSPORT says so. */
export function testTransport(): OffloadTransport {
  return process.env.OFFLOAD_TEST_TRANSPORT === "grpc-js" ? "grpc-js" : "native";
}

/** `count` on the native transport, 0 on grpc-js: what `OffloadServer.nativeCalls` counts there. */
export function onNative(count: number): number {
  return testTransport() === "native" ? count : 0;
}

/** Raw bytes as they are (a serializer and deserializer of raw-byte test methods). */
export const identity = (b: Buffer): Buffer => b;

/** A client-streaming test method `/test.Collect/{name}` of raw bytes; `decode` reads each request. */
export function collectMethod(
  name: string,
  decode: (b: Buffer) => Buffer = identity,
): MethodDefinition<Buffer, Buffer> {
  return {
    path: `/test.Collect/${name}`,
    requestStream: true,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: decode,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

/** Reads every message as it comes and answers "count:bytes" at the half-close. */
export const countingSum: handleClientStreamingCall<Buffer, Buffer> = (call, callback) => {
  let count = 0;
  let bytes = 0;
  call.on("data", (message: Buffer) => {
    count += 1;
    bytes += message.length;
  });
  call.on("end", () => callback(null, Buffer.from(`${count}:${bytes}`, "latin1")));
};

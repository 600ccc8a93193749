import { constants as h2, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http2";
import { Metadata } from "@grpc/grpc-js";
import { encodeGrpcMessage } from "./grpc-message-encoding";
import type { GrpcStatus } from "./grpc-status";

// Request headers that are transport, not application metadata (grpc-js removes the same).
const TRANSPORT_HEADERS = [
  "grpc-timeout",
  "grpc-encoding",
  "grpc-accept-encoding",
  "accept-encoding",
  "te",
  "content-type",
];

/** The part of an HTTP/2 server stream a native call uses: met by the native transport's NativeStream. */
export interface CallStream {
  respond(headers: OutgoingHttpHeaders, options?: { endStream?: boolean; waitForTrailers?: boolean }): void;
  write(chunk: Buffer, callback?: (error?: Error | null) => void): boolean;
  end(chunk?: Buffer): unknown;
  sendTrailers(headers: OutgoingHttpHeaders): void;
  on(event: "data", listener: (chunk: Buffer) => void): unknown;
  on(event: "end" | "close" | "drain" | "error" | "wantTrailers", listener: () => void): unknown;
  once(event: "wantTrailers", listener: () => void): unknown;
  readonly destroyed: boolean;
  readonly closed: boolean;
  readonly session?:
    { readonly socket?: { readonly remoteAddress?: string; readonly remotePort?: number } } | undefined;
}

/** What every native call object offers of grpc-js's server call API, whatever its kind. */
export interface NativeCallInfo {
  /** True once the call was cut off (client reset or gone, deadline, a refused message). */
  cancelled: boolean;
  /** The request metadata: the headers less the transport ones. */
  readonly metadata: Metadata;
  /** "address:port" of the client. */
  getPeer(): string;
  /** The deadline in ms since the epoch (from `grpc-timeout`), or Infinity. */
  getDeadline(): number;
  /** The method's path. */
  getPath(): string;
  /** The request's `:authority`. */
  getHost(): string | undefined;
  /** Sends the response headers now, with `metadata`; ignored once they are sent or the call is over. */
  sendMetadata(metadata: Metadata): void;
}

/** A native call with one request message (unary calls: only this, no events). */
export interface NativeCallBase extends NativeCallInfo {
  /** The decoded request. */
  readonly request: unknown;
}

/** Response headers of every call, as grpc-js sends them. */
export const RESPONSE_HEADERS: Readonly<OutgoingHttpHeaders> = Object.freeze({
  [h2.HTTP2_HEADER_STATUS]: 200,
  [h2.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc+proto",
  "grpc-accept-encoding": "identity,deflate,gzip",
  "grpc-encoding": "identity",
});

/** The request metadata a handler sees: the headers less the transport ones. */
export function requestMetadata(headers: IncomingHttpHeaders): Metadata {
  const metadata = Metadata.fromHttp2Headers(headers);
  for (const name of TRANSPORT_HEADERS) metadata.remove(name);
  return metadata;
}

/** "address:port" of the peer, or "unknown", as grpc-js's `getPeer()`. */
export function peerOf(stream: CallStream): string {
  const socket = stream.session?.socket;
  return socket ? peerAddress(socket) : "unknown";
}

/** "address:port" of a socket's peer, or "unknown". */
export function peerAddress(socket: { readonly remoteAddress?: string; readonly remotePort?: number }): string {
  if (!socket.remoteAddress) return "unknown";
  return socket.remotePort ? `${socket.remoteAddress}:${socket.remotePort}` : socket.remoteAddress;
}

/** Whether a request's content-type is one the native transport serves (anything else, e.g. +json, goes to grpc-js). */
export function isProtoContentType(value: string | undefined): boolean {
  return value === "application/grpc" || value === "application/grpc+proto";
}

/** The `:authority` (or `host`) of the request. */
export function hostOf(headers: IncomingHttpHeaders): string | undefined {
  const authority = headers[h2.HTTP2_HEADER_AUTHORITY] ?? headers.host;
  return Array.isArray(authority) ? authority[0] : authority;
}

/** Whether the stream can no longer carry a response (reset, closed, or its session gone). */
export function isGone(stream: CallStream): boolean {
  return stream.destroyed || stream.closed;
}

/** The trailer fields of `status`: grpc-status, percent-encoded grpc-message, and its metadata. */
export function statusTrailers(status: GrpcStatus): OutgoingHttpHeaders {
  const trailers: OutgoingHttpHeaders = {
    "grpc-status": String(status.code),
    "grpc-message": encodeGrpcMessage(status.details),
  };
  return status.metadata ? Object.assign(trailers, status.metadata.toHttp2Headers()) : trailers;
}

/** Answers with a trailers-only response (one HEADERS frame that ends the stream); nothing when the stream is gone. */
export function respondTrailersOnly(stream: CallStream, status: GrpcStatus): void {
  if (isGone(stream)) return;
  stream.respond(trailersOnlyHeaders(status), { endStream: true });
}

/** The one HEADERS block of a trailers-only response: response headers and the status fields. */
export function trailersOnlyHeaders(status: GrpcStatus): OutgoingHttpHeaders {
  return Object.assign({}, RESPONSE_HEADERS, statusTrailers(status));
}

/** The response headers with a handler's `sendMetadata` fields, if any. */
export function responseHeaders(custom: Metadata | undefined): OutgoingHttpHeaders {
  return custom ? Object.assign({}, RESPONSE_HEADERS, custom.toHttp2Headers()) : { ...RESPONSE_HEADERS };
}

/** Writes the 5-byte gRPC message prefix (uncompressed) and the message into a new buffer. */
export function frameMessage(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

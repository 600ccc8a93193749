import { connect as connectSocket } from "node:net";
import {
  connect as connectHttp2,
  constants as h2,
  type ClientHttp2Session,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from "node:http2";
import { ErrorCode } from "./frames";
import type { NativeStream } from "./native-stream";

/** Forwards whole streams to another HTTP/2 server (grpc-js, on a private socket). */
export interface UpstreamProxy {
  /** Forwards `stream` (request headers, data, end, reset) and relays the response back. */
  forward(stream: NativeStream, headers: IncomingHttpHeaders): void;
  /** Closes the upstream connection; forwarded streams still open are cancelled. */
  close(): void;
}

// Request headers HTTP/2 forbids a client to send (Node's http2 throws on them).
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "host",
  "http2-settings",
]);

function requestHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    if (name === "te" && value !== "trailers") continue;
    out[name] = value;
  }
  return out;
}

/**
 * Creates the proxy to the HTTP/2 server listening on the Unix socket
 * `socketPath`: one client connection, opened on first use and reopened after
 * it closes. Flow control holds end to end in the response direction (the
 * upstream stream pauses while the client's stream is full) and in the
 * request direction (the client's window is given back as the upstream
 * stream takes its data).
 */
export function createUpstreamProxy(socketPath: string): UpstreamProxy {
  let session: ClientHttp2Session | undefined;
  const sessionNow = (): ClientHttp2Session => {
    if (session !== undefined && !session.closed && !session.destroyed) return session;
    const opened = connectHttp2("http://localhost", { createConnection: () => connectSocket(socketPath) });
    opened.on("error", () => undefined); // its streams report the failure
    opened.on("close", () => {
      if (session === opened) session = undefined;
    });
    session = opened;
    return opened;
  };

  return {
    forward(stream, headers) {
      let upstream: ReturnType<ClientHttp2Session["request"]>;
      try {
        upstream = sessionNow().request(requestHeaders(headers), { endStream: false });
      } catch {
        stream.close(ErrorCode.INTERNAL_ERROR);
        return;
      }
      let trailers: OutgoingHttpHeaders = {};
      let trailersOnly = false;
      let ended = false; // the response ended normally (it may still be flowing to the client)
      // Request data is consumed once the upstream stream took it (its own flow control allowing): only then
      // does the client get window back, so a client cannot pile up data that grpc-js does not read.
      stream.defersConsumption = true;
      stream.on("data", (chunk: Buffer) => upstream.write(chunk, () => stream.consumed(chunk.length)));
      stream.on("end", () => upstream.end());
      stream.on("close", () => {
        // Whatever code the client reset with, grpc-js is told CANCEL: the one code Node's http2 does not turn
        // into an 'error' on grpc-js's side of the stream.
        if (!upstream.closed && !upstream.destroyed) upstream.close(h2.NGHTTP2_CANCEL);
      });
      stream.on("drain", () => upstream.resume());
      upstream.on("error", () => undefined); // 'close' follows
      upstream.on("response", (responseHeaders, flags) => {
        trailersOnly = (flags & h2.NGHTTP2_FLAG_END_STREAM) !== 0;
        stream.respond(responseHeaders, trailersOnly ? { endStream: true } : { waitForTrailers: true });
      });
      upstream.on("data", (chunk: Buffer) => {
        if (!stream.write(chunk)) upstream.pause();
      });
      upstream.on("trailers", (received) => {
        trailers = received;
      });
      upstream.on("end", () => {
        ended = true;
        if (trailersOnly || stream.closed) return;
        stream.once("wantTrailers", () => stream.sendTrailers(trailers));
        stream.end();
      });
      upstream.on("close", () => {
        if (stream.closed || ended || trailersOnly) return;
        const code = upstream.rstCode;
        // Ended without a response or reset: the client's stream is reset too.
        stream.close(code !== undefined && code !== h2.NGHTTP2_NO_ERROR ? code : ErrorCode.INTERNAL_ERROR);
      });
    },
    close() {
      session?.destroy();
      session = undefined;
    },
  };
}

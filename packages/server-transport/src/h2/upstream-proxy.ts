import { connect as connectSocket } from "node:net";
import {
  connect as connectHttp2,
  constants as h2,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from "node:http2";
import { ErrorCode } from "./frames";
import type { NativeStream } from "./native-stream";
import { ResetBudget } from "./reset-budget";
import { RequestCoalescer } from "./request-coalescer";
import type { GrpcStatus } from "../grpc/grpc-status";
import { statusTrailers, trailersOnlyHeaders } from "../grpc/call-context";
import { MessageFramingCheck } from "../grpc/message-framing-check";

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

// The encodings grpc-js decompresses, as it lists them in grpc-accept-encoding.
const ACCEPT_ENCODING = "identity,deflate,gzip";

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
 * it closes, is sent GOAWAY, or has reset so many streams that its server
 * would soon end it (see `ResetBudget`). Flow control holds end to end in the
 * response direction (the upstream stream pauses while the client's stream is
 * full) and in the request direction (the client's window is given back as
 * the upstream stream takes its data). Each request's message framing is
 * checked on the way (`MessageFramingCheck`, with `maxMessageLength` as the
 * largest request message, -1 for none): a request grpc-js would take
 * although it is malformed is answered here, as a native route answers it.
 */
export function createUpstreamProxy(socketPath: string, maxMessageLength = -1): UpstreamProxy {
  const sessions = new Set<ClientHttp2Session>();
  const budgets = new WeakMap<ClientHttp2Session, ResetBudget>();
  let session: ClientHttp2Session | undefined;
  const sessionNow = (): ClientHttp2Session => {
    if (session !== undefined && !session.closed && !session.destroyed) return session;
    const opened = connectHttp2("http://localhost", { createConnection: () => connectSocket(socketPath) });
    opened.on("error", () => undefined); // its streams report the failure
    const forget = (): void => {
      if (session === opened) session = undefined;
    };
    opened.on("close", () => {
      forget();
      sessions.delete(opened);
    });
    // After a GOAWAY Node refuses new requests on the session; its streams in flight finish on it.
    opened.on("goaway", forget);
    sessions.add(opened);
    budgets.set(opened, new ResetBudget(Date.now()));
    session = opened;
    return opened;
  };
  // Resets `upstream` (CANCEL); a connection near the end of its reset budget takes no new streams and closes
  // once its open ones have ended, so that clients cancelling calls never get all forwarded calls failed.
  const cancel = (upstream: ClientHttp2Stream, owner: ClientHttp2Session): void => {
    upstream.close(h2.NGHTTP2_CANCEL);
    if (budgets.get(owner)?.spend(Date.now()) !== false) return;
    if (session === owner) session = undefined;
    if (!owner.closed) owner.close();
  };

  return {
    forward(stream, headers) {
      let owner: ClientHttp2Session;
      let upstream: ClientHttp2Stream;
      try {
        owner = sessionNow();
        upstream = owner.request(requestHeaders(headers), { endStream: false });
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
      // A request that is not a sequence of gRPC messages is answered INTERNAL here, as on the native routes;
      // grpc-js is told CANCEL (the 'close' listener).
      const framing = new MessageFramingCheck(headers["grpc-encoding"], maxMessageLength);
      const refuse = (status: GrpcStatus): void => {
        if (!stream.headersAreSent) stream.respond(trailersOnlyHeaders(status), { endStream: true });
        else stream.sendTrailers(statusTrailers(status));
      };
      const coalescer = new RequestCoalescer((bytes) => upstream.write(bytes, () => stream.consumed(bytes.length)));
      stream.on("data", (chunk: Buffer) => {
        const endedBefore = framing.messagesEnded;
        const problem = framing.push(chunk);
        if (problem === undefined) {
          coalescer.push(chunk, framing.messagesEnded !== endedBefore);
        } else {
          stream.consumed(chunk.length);
          refuse(problem);
        }
      });
      stream.on("end", () => {
        const problem = framing.end();
        if (problem === undefined) {
          coalescer.flush();
          upstream.end();
        } else refuse(problem);
      });
      stream.on("close", () => {
        if (upstream.closed || upstream.destroyed) return;
        // A complete exchange (the request sent whole, the response received whole) is not reset: the upstream
        // stream is closing by itself. Its 'end' comes while Node's http2 still handles the frame that ended it,
        // before the stream counts as closed, so `upstream.closed` alone would send a RST_STREAM for every call,
        // and grpc-js's HTTP/2 server (nghttp2) takes 1,000 resets plus 33 a second from a peer, then ends the
        // connection with GOAWAY INTERNAL_ERROR and every call on it.
        if ((ended || trailersOnly) && upstream.writableFinished) return;
        // Otherwise, whatever code the client reset with, grpc-js is told CANCEL: the one code Node's http2 does
        // not turn into an 'error' on grpc-js's side of the stream.
        cancel(upstream, owner);
      });
      stream.on("drain", () => upstream.resume());
      upstream.on("error", () => undefined); // 'close' follows
      upstream.on("response", (responseHeaders, flags) => {
        trailersOnly = (flags & h2.NGHTTP2_FLAG_END_STREAM) !== 0;
        if (trailersOnly && responseHeaders["grpc-accept-encoding"] === undefined) {
          // grpc-js refuses a message compressed with an encoding it lacks with UNIMPLEMENTED, trailers-only, but
          // without the grpc-accept-encoding that gRPC's compression spec asks for with that answer.
          responseHeaders["grpc-accept-encoding"] = ACCEPT_ENCODING;
        }
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
      for (const open of sessions) open.destroy();
      sessions.clear();
      session = undefined;
    },
  };
}

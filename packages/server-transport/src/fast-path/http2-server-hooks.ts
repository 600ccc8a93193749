/**
 * The one module that reaches into grpc-js internals.
 *
 * grpc-js (pinned at 1.14.3) creates one Node http2 server per bound address
 * in the private method `Server.prototype.createHttp2Server(credentials)`,
 * which also attaches its single 'stream' listener (`_setupHandlers`). We
 * wrap that method on one server INSTANCE, and after grpc-js has built the
 * http2 server and its listeners:
 *
 * - the fast path: grpc-js's 'stream' listener is replaced by our dispatcher,
 *   which serves the fast routes itself and calls grpc-js's listener,
 *   unchanged, for everything else. Everything else about the server stays
 *   grpc-js's: TLS/mTLS, sessions, keepalives, GOAWAY and graceful shutdown,
 *   health, reflection. Fast streams also go through grpc-js's private
 *   `onStreamOpened(stream)`, so that its idle-connection timer sees them.
 * - connection tracking: grpc-js 1.14's `forceShutdown()` destroys open
 *   connections only when channelz is enabled (its session map is kept for
 *   channelz alone), so with channelz off, calls in flight would survive a
 *   forced shutdown. We remember each HTTP/2 session so that
 *   `destroyConnections()` can cancel them.
 * - stream errors: grpc-js 1.14 attaches no 'error' listener to a stream it
 *   answers itself (an unknown method, a wrong content-type), so a client
 *   that resets such a stream with a code other than NO_ERROR or CANCEL, in
 *   the same packet as its HEADERS, made Node throw ERR_HTTP2_STREAM_ERROR
 *   out of the event loop and killed the process. Every stream gets a
 *   listener first; the reset itself needs no handling.
 *
 * If a grpc-js version lacks `createHttp2Server`, or its http2 server does
 * not carry exactly one 'stream' listener, one warning is logged and grpc-js
 * serves every call (correct, only slower).
 */
import {
  constants as h2,
  type Http2SecureServer,
  type Http2Server,
  type Http2Session,
  type ServerHttp2Stream,
} from "node:http2";
import type { Server, ServerCredentials } from "@grpc/grpc-js";
import { createSilentLogger, type Logger } from "@sessionoffload/offload-api";
import { createStreamDispatcher, type StreamDispatcherOptions, type StreamListener } from "./stream-dispatcher";

// The private members of grpc-js's Server that the hooks rely on.
interface GrpcServerInternals {
  createHttp2Server?: (credentials: ServerCredentials) => Http2Server | Http2SecureServer;
  onStreamOpened?: (stream: ServerHttp2Stream) => void;
}

// Credentials may carry interceptors (grpc-js `_getInterceptors`); the fast path would skip them.
function hasInterceptors(credentials: ServerCredentials): boolean {
  const get = (credentials as { _getInterceptors?: () => unknown[] })._getInterceptors;
  return typeof get === "function" && get.call(credentials).length > 0;
}

// A peer's RST_STREAM, surfaced as an 'error' on the stream: grpc-js and the call end it; nothing to do.
function ignoreStreamError(): void {}

/** Options of `hookGrpcServer`. */
export interface GrpcServerHooksOptions {
  /** The fast path to install: the dispatcher's options less what comes from grpc-js; absent for none. */
  readonly fastPath?: Omit<StreamDispatcherOptions, "fallback" | "onStreamOpened">;
  /** Told once when the hooks cannot be installed. */
  readonly logger: Logger;
}

/** What `hookGrpcServer` installed. */
export interface GrpcServerHooks {
  /** True when the fast path will serve its routes on every address bound from now on. */
  readonly fastPathInstalled: boolean;
  /** Destroys every open HTTP/2 connection of the server (RST with CANCEL): calls in flight end at once. */
  destroyConnections(): void;
}

/**
 * Wraps `server`'s private `createHttp2Server` (see the module comment) for
 * every address bound after this call. Without that method, logs one warning
 * and returns hooks that do nothing: grpc-js then serves everything and
 * `destroyConnections` is a no-op.
 */
export function hookGrpcServer(server: Server, options: GrpcServerHooksOptions): GrpcServerHooks {
  const { logger, fastPath } = options;
  const internals = server as unknown as GrpcServerInternals;
  const original = internals.createHttp2Server;
  const sessions = new Set<Http2Session>();
  const destroyConnections = (): void => {
    for (const session of sessions) session.destroy(undefined, h2.NGHTTP2_CANCEL);
    sessions.clear();
  };
  if (typeof original !== "function") {
    logger.warn(
      { reason: "grpc-js Server has no createHttp2Server" },
      "gRPC fast path not installed: grpc-js serves every call",
    );
    return { fastPathInstalled: false, destroyConnections };
  }
  const opened = internals.onStreamOpened;
  const onStreamOpened =
    typeof opened === "function" ? (stream: ServerHttp2Stream) => opened.call(server, stream) : undefined;
  let warned = false;
  internals.createHttp2Server = function createHttp2ServerWithHooks(
    this: unknown,
    credentials: ServerCredentials,
  ): Http2Server | Http2SecureServer {
    const http2Server = original.call(this, credentials);
    http2Server.on("session", (session: Http2Session) => {
      sessions.add(session);
      session.once("close", () => sessions.delete(session));
    });
    installFastPath(http2Server, credentials);
    // First of all 'stream' listeners, whatever serves the stream.
    http2Server.prependListener("stream", (stream: ServerHttp2Stream) => {
      stream.on("error", ignoreStreamError);
    });
    return http2Server;
  };
  function installFastPath(http2Server: Http2Server | Http2SecureServer, credentials: ServerCredentials): void {
    if (fastPath === undefined || hasInterceptors(credentials)) return;
    const listeners = http2Server.listeners("stream");
    const grpcListener = listeners[0];
    if (listeners.length !== 1 || grpcListener === undefined) {
      if (!warned) {
        warned = true;
        logger.warn(
          { reason: `expected one grpc-js 'stream' listener, found ${listeners.length}` },
          "gRPC fast path not installed: grpc-js serves every call",
        );
      }
      return;
    }
    const fallback = grpcListener as StreamListener;
    http2Server.removeListener("stream", fallback);
    http2Server.on("stream", createStreamDispatcher({ ...fastPath, fallback, onStreamOpened }));
  }
  return {
    get fastPathInstalled() {
      return fastPath !== undefined && !warned;
    },
    destroyConnections,
  };
}

/**
 * Guards a grpc-js `Server` of your own (one hosting the handlers of
 * `createSessionTableHandlers` or `createSessionStatisticsHandlers`, say)
 * against the stream-reset crash described above: every stream of every
 * address bound after this call gets an 'error' listener. The servers of
 * `createOffloadServer` have it already. Call it before `bindAsync`; the
 * logger hears once if this grpc-js version cannot be guarded.
 */
export function guardGrpcServer(server: Server, logger: Logger = createSilentLogger()): void {
  hookGrpcServer(server, { logger });
}

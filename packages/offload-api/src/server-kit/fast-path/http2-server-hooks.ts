/**
 * The one module that reaches into grpc-js internals.
 *
 * grpc-js (pinned at 1.14.3) creates one Node http2 server per bound address
 * in the private method `Server.prototype.createHttp2Server(credentials)`,
 * which also attaches its single 'stream' listener (`_setupHandlers`). We
 * wrap that method on one server INSTANCE: after grpc-js has built the http2
 * server and its listeners, its 'stream' listener is replaced by our
 * dispatcher, which serves the fast routes itself and calls grpc-js's listener
 * for everything else. Everything else about the server stays grpc-js's:
 * TLS/mTLS, sessions, keepalives, GOAWAY and graceful shutdown, health,
 * reflection. Fast streams also go through grpc-js's private
 * `onStreamOpened(stream)`, so that its idle-connection timer sees them.
 *
 * If a grpc-js version lacks `createHttp2Server`, or its http2 server does
 * not carry exactly one 'stream' listener, one warning is logged and grpc-js
 * serves every call (correct, only slower).
 */
import type { Http2SecureServer, Http2Server, ServerHttp2Stream } from "node:http2";
import type { Server, ServerCredentials } from "@grpc/grpc-js";
import type { Logger } from "../logger";
import { createStreamDispatcher, type StreamDispatcherOptions, type StreamListener } from "./stream-dispatcher";

// The private members of grpc-js's Server that the fast path relies on.
interface GrpcServerInternals {
  createHttp2Server?: (credentials: ServerCredentials) => Http2Server | Http2SecureServer;
  onStreamOpened?: (stream: ServerHttp2Stream) => void;
}

// Credentials may carry interceptors (grpc-js `_getInterceptors`); the fast path would skip them.
function hasInterceptors(credentials: ServerCredentials): boolean {
  const get = (credentials as { _getInterceptors?: () => unknown[] })._getInterceptors;
  return typeof get === "function" && get.call(credentials).length > 0;
}

/** What `installFastPath` needs besides the server: the dispatcher's options less what comes from grpc-js. */
export type FastPathInstallOptions = Omit<StreamDispatcherOptions, "fallback" | "onStreamOpened"> & {
  /** Told once when the fast path cannot be installed. */
  readonly logger: Logger;
};

/**
 * Makes `server` serve `options.routes` on the fast path for every address
 * bound after this call. Returns false (after one warning) when this grpc-js
 * has no `createHttp2Server` to wrap; grpc-js then serves everything.
 */
export function installFastPath(server: Server, options: FastPathInstallOptions): boolean {
  const internals = server as unknown as GrpcServerInternals;
  const original = internals.createHttp2Server;
  if (typeof original !== "function") {
    options.logger.warn(
      { reason: "grpc-js Server has no createHttp2Server" },
      "gRPC fast path not installed: grpc-js serves every call",
    );
    return false;
  }
  const opened = internals.onStreamOpened;
  const onStreamOpened =
    typeof opened === "function" ? (stream: ServerHttp2Stream) => opened.call(server, stream) : undefined;
  let warned = false;
  internals.createHttp2Server = function createHttp2ServerWithFastPath(
    this: unknown,
    credentials: ServerCredentials,
  ): Http2Server | Http2SecureServer {
    const http2Server = original.call(this, credentials);
    if (hasInterceptors(credentials)) return http2Server;
    const listeners = http2Server.listeners("stream");
    const grpcListener = listeners[0];
    if (listeners.length !== 1 || grpcListener === undefined) {
      if (!warned) {
        warned = true;
        options.logger.warn(
          { reason: `expected one grpc-js 'stream' listener, found ${listeners.length}` },
          "gRPC fast path not installed: grpc-js serves every call",
        );
      }
      return http2Server;
    }
    const fallback = grpcListener as StreamListener;
    http2Server.removeListener("stream", fallback);
    http2Server.on("stream", createStreamDispatcher({ ...options, fallback, onStreamOpened }));
    return http2Server;
  };
  return true;
}

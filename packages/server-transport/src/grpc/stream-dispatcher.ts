import type { IncomingHttpHeaders } from "node:http2";
import { isProtoContentType } from "./call-context";
import { serveClientStreamCall, type ReadableCallStream } from "./client-stream-call";
import type { CallOptions } from "./call-options";
import type { NativeCallStarter } from "../observed-call";
import type { NativeRoute } from "./route";
import { serveServerStreamCall } from "./server-stream-call";
import { refuseMalformedCall } from "./forward-check";

/** An HTTP/2 'stream' listener of the native transport. */
export type StreamListener<S extends ReadableCallStream> = (stream: S, headers: IncomingHttpHeaders) => void;

/** How many calls the native transport served itself and how many it forwarded to grpc-js. */
export interface NativeCallCounters {
  /** Calls of native routes served by the native transport. */
  served: number;
  /** Calls forwarded to grpc-js (health, reflection, other methods, compressed calls). */
  forwarded: number;
}

/** Options of `createStreamDispatcher`. */
export interface StreamDispatcherOptions<S extends ReadableCallStream> {
  /** The routes served natively, by path. */
  readonly routes: ReadonlyMap<string, NativeRoute>;
  /** Gets every stream not served here, unchanged (the forwarding to grpc-js). */
  readonly fallback: StreamListener<S>;
  readonly callOptions: CallOptions;
  readonly counters: NativeCallCounters;
  /** Reports each call served here to the server's `CallObserver`; none without one. */
  readonly startCall?: NativeCallStarter;
}

/**
 * Creates the 'stream' listener that serves the server-streaming and
 * client-streaming native routes itself and hands every other stream to `fallback`: unknown paths
 * (health, reflection, unregistered methods), unary routes the unary router
 * did not take, any `grpc-encoding` but identity (a client that may
 * compress), a content type other than application/grpc or
 * application/grpc+proto, a method other than POST. Of those, a request
 * that is not a well-formed gRPC call (a method other than POST, a content
 * type not application/grpc*, a malformed grpc-timeout) is answered here
 * instead (`refuseMalformedCall`).
 */
export function createStreamDispatcher<S extends ReadableCallStream>(
  options: StreamDispatcherOptions<S>,
): StreamListener<S> {
  const { routes, fallback, callOptions, counters, startCall } = options;
  return function dispatch(stream, headers) {
    const path = headers[":path"];
    const route = path === undefined ? undefined : routes.get(path);
    const encoding = headers["grpc-encoding"];
    if (
      route === undefined ||
      route.kind === "unary" ||
      (encoding !== undefined && encoding !== "identity") ||
      !isProtoContentType(headers["content-type"]) ||
      headers[":method"] !== "POST"
    ) {
      if (refuseMalformedCall(stream, headers)) return;
      counters.forwarded += 1;
      fallback(stream, headers);
      return;
    }
    counters.served += 1;
    if (route.kind === "clientStream") serveClientStreamCall(stream, headers, route, callOptions, startCall?.(route));
    else serveServerStreamCall(stream, headers, route, callOptions, startCall?.(route));
  };
}

import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { isProtoContentType, type CallStream } from "./call-context";
import type { FastCallOptions } from "./fast-call-options";
import type { FastRoute } from "./fast-route";
import { serveServerStreamCall } from "./server-stream-call";
import { serveUnaryCall } from "./unary-call";

/** An http2 server 'stream' listener (Node's streams by default; the native transport's NativeStream). */
export type StreamListener<S extends CallStream = ServerHttp2Stream> = (
  stream: S,
  headers: IncomingHttpHeaders,
  ...rest: unknown[]
) => void;

/** Counts of the fast path, for tests and metrics. */
export interface FastPathCounters {
  /** Calls served by the fast path. */
  fastCalls: number;
  /** Calls handed to grpc-js. */
  fallbackCalls: number;
}

/** Options of `createStreamDispatcher`. */
export interface StreamDispatcherOptions<S extends CallStream = ServerHttp2Stream> {
  /** The routes served fast, by path. */
  readonly routes: ReadonlyMap<string, FastRoute>;
  /** grpc-js's own listener: it gets every stream the fast path does not take, unchanged. */
  readonly fallback: StreamListener<S>;
  /** Called for each stream served fast, before anything else (grpc-js's idle-timeout bookkeeping). */
  readonly onStreamOpened?: (stream: S) => void;
  readonly callOptions: FastCallOptions;
  readonly counters: FastPathCounters;
}

/**
 * Creates the http2 'stream' listener that serves registered fast routes
 * itself and hands every other stream to grpc-js: unknown paths (health,
 * reflection, unregistered methods), any `grpc-encoding` but identity (a
 * client that may compress), a content type other than application/grpc or
 * application/grpc+proto, a method other than POST.
 */
export function createStreamDispatcher<S extends CallStream = ServerHttp2Stream>(
  options: StreamDispatcherOptions<S>,
): StreamListener<S> {
  const { routes, fallback, onStreamOpened, callOptions, counters } = options;
  return function dispatch(stream, headers, ...rest) {
    const path = headers[":path"];
    const route = path === undefined ? undefined : routes.get(path);
    const encoding = headers["grpc-encoding"];
    if (
      route === undefined ||
      (encoding !== undefined && encoding !== "identity") ||
      !isProtoContentType(headers["content-type"]) ||
      headers[":method"] !== "POST"
    ) {
      counters.fallbackCalls += 1;
      fallback(stream, headers, ...rest);
      return;
    }
    counters.fastCalls += 1;
    onStreamOpened?.(stream);
    if (route.kind === "unary") serveUnaryCall(stream, headers, route, callOptions);
    else serveServerStreamCall(stream, headers, route, callOptions);
  };
}

import {
  Server,
  ServerCredentials,
  type ServerOptions,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TlsOptions } from "node:tls";
import { createStreamDispatcher, type NativeCallCounters, type NativeRoute } from "./grpc";
import type { CallObserver } from "./call-observer";
import { createInFlightCalls } from "./grpc-js/in-flight-calls";
import { createObserverInterceptor } from "./grpc-js/observer-interceptor";
import { nativeCallStarter } from "./observed-call";
import { grpcServerCredentials, isOffloadCredentials, nativeTlsOptions, type OffloadCredentials } from "./credentials";
import {
  createNativeServer,
  createUnaryRouter,
  createUpstreamProxy,
  type NativeServer,
  type NativeStream,
  type UpstreamProxy,
} from "./h2";
import { parseHostPort } from "./listen-address";
import { resolveTransportLimits, type TransportLimits } from "./limits";
import { TransportCounters, type TransportStats } from "./transport-stats";
import { createSilentLogger, isLevelEnabled, type Logger } from "@sessionoffload/offload-api";

/**
 * How a server speaks HTTP/2: "native", its own HTTP/2 implementation in
 * front (see `OffloadServerOptions.transport`), or "grpc-js", grpc-js's
 * server on Node's http2 module.
 */
export type OffloadTransport = "native" | "grpc-js";

/** A gRPC server hosting offload services: bind it, then shut it down gracefully. */
export interface OffloadServer {
  /** The underlying grpc-js server, for adding more services before `listen`. */
  readonly grpcServer: Server;
  /** The transport in use (the asked one, or "grpc-js" when "native" cannot serve these options). */
  readonly transport: OffloadTransport;
  /**
   * Binds `address` (e.g. "127.0.0.1:0", "[::1]:3443") with the server's
   * credentials and starts serving; resolves to the bound port. May be called
   * more than once for several addresses. Rejects with the bind error (a port
   * in use says EADDRINUSE).
   */
  listen(address: string): Promise<number>;
  /**
   * Graceful stop: no new calls; `onShutdown` hooks run (health turns
   * NOT_SERVING, streams end at their next message); in-flight calls finish.
   * After `shutdownTimeoutMs` whatever is left is cancelled. Idempotent.
   */
  shutdown(): Promise<void>;
  /** Stops at once: in-flight calls are cancelled. */
  forceShutdown(): void;
  /** What the native transport sent and refused so far (all zero on the grpc-js transport). */
  transportStats(): TransportStats;
  /** On the native transport, how many calls it served itself and forwarded to grpc-js (zeros on grpc-js). */
  readonly nativeCalls: NativeCallCounts;
}

/** The call counts of the native transport, read live. */
export interface NativeCallCounts {
  /** Calls of `nativeRoutes` served by the native transport so far. */
  readonly served: number;
  /** Calls forwarded to grpc-js so far (other methods, compressed calls, health, reflection). */
  readonly forwarded: number;
}

/** Something that installs itself on a grpc-js server (a service, health, reflection). */
export interface ServerAddOn {
  /** Adds the add-on's services to `server`. */
  addToServer(server: Pick<Server, "addService">): void;
}

/** The part of a streaming call the server needs to end it. */
interface EndableCall {
  end(): unknown;
  on(event: string, listener: () => void): unknown;
}

// Installs add-ons through a proxy that remembers their open streaming calls
// (health Watch, reflection), so that shutdown can end them: they never end
// by themselves and would hold a graceful shutdown for its whole grace period.
function trackStreams(server: Server, open: Set<EndableCall>): Pick<Server, "addService"> {
  return {
    addService(service: ServiceDefinition, implementation: UntypedServiceImplementation) {
      const wrapped: UntypedServiceImplementation = { ...implementation };
      for (const [name, method] of Object.entries(service)) {
        if (!method.responseStream) continue;
        const key = name in implementation ? name : method.originalName;
        const handler = key === undefined ? undefined : implementation[key];
        if (key === undefined || typeof handler !== "function") continue;
        wrapped[key] = (call: EndableCall) => {
          open.add(call);
          const forget = () => open.delete(call);
          call.on("finish", forget);
          call.on("cancelled", forget);
          call.on("close", forget);
          (handler as (call: EndableCall) => void)(call);
        };
      }
      server.addService(service, wrapped);
    },
  };
}

/** Options of `createOffloadServer`. */
export interface OffloadServerOptions {
  /**
   * Transport security: `createTlsCredentials(...)`, or plaintext only with an
   * explicit `createInsecureCredentials()`. A grpc-js `ServerCredentials` (a
   * certificate provider, say) is taken with `transport: "grpc-js"` only; the
   * native transport throws a TypeError for one.
   */
  readonly credentials: OffloadCredentials | ServerCredentials;
  /** Installs the server's services on it (called once, before any `listen`). */
  readonly install: (server: Server) => void;
  /**
   * Extra services (health, reflection), added after `install`. Their open
   * streaming calls (a health Watch) are ended when shutdown starts.
   */
  readonly addOns?: readonly ServerAddOn[];
  /** Called once when `shutdown()` starts, before the server stops taking calls. */
  readonly onShutdown?: () => void;
  /** grpc-js channel options of the server. */
  readonly grpcOptions?: ServerOptions;
  /** How long `shutdown()` waits for in-flight calls before cancelling them; default 10,000 ms. */
  readonly shutdownTimeoutMs?: number;
  /** Lifecycle log lines (bound at debug; shutting down, stopped); default silent. */
  readonly logger?: Logger;
  /** Name used in log lines, e.g. "sessions". */
  readonly name?: string;
  /**
   * Methods the native transport serves itself (see `createNativeRoute`):
   * its own HTTP/2 handling of these unary, server-streaming and
   * client-streaming methods, in front of grpc-js, for throughput and latency. They must also be
   * installed as usual by `install`: grpc-js serves them on the grpc-js
   * transport, and for calls the native transport forwards (a compressed
   * request, a content type other than application/grpc[+proto]). Unary
   * handlers get a call object without events (request, metadata,
   * cancelled, getPeer, getDeadline, getPath, getHost, sendMetadata);
   * server-streaming handlers get all of a ServerWritableStream that a
   * handler writes with; client-streaming handlers a `NativeReadableCall`
   * (a Readable of the requests with the ServerReadableStream fields) and
   * the callback.
   */
  readonly nativeRoutes?: readonly NativeRoute[];
  /** Bytes of framed messages a native server stream gathers into one HTTP/2 write; default 32 KiB, 1 KiB..1 MiB. */
  readonly streamChunkBytes?: number;
  /**
   * "native" (default): the server's own HTTP/2 implementation listens and
   * serves `nativeRoutes` itself; every other call (health, reflection, other
   * services, compressed calls) is forwarded over a private Unix socket to
   * the grpc-js server, which serves it as usual. "grpc-js": grpc-js alone
   * listens and serves every call, through its public API. Native needs
   * native routes, no `grpcOptions.interceptors` (they must see every call),
   * and credentials of `createTlsCredentials`/`createInsecureCredentials`; otherwise
   * grpc-js is used. `listen` then takes host:port addresses only.
   */
  readonly transport?: OffloadTransport;
  /**
   * Limits of the native transport (see `TransportLimits`), over
   * `DEFAULT_TRANSPORT_LIMITS`; `maxConcurrentStreams` defaults to
   * `grpcOptions["grpc.max_concurrent_streams"]` when that is set.
   */
  readonly limits?: Partial<TransportLimits>;
  /**
   * Told about every call, on either transport, for metrics (see
   * `CallObserver`): the native transport reports its own calls, a grpc-js
   * server interceptor the calls grpc-js serves. None by default (no cost).
   */
  readonly callObserver?: CallObserver;
}

/** Default of `OffloadServerOptions.streamChunkBytes`. */
export const DEFAULT_STREAM_CHUNK_BYTES = 32 * 1024;

// grpc-js's defaults for the message size limits.
const DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH = 4 * 1024 * 1024;
const DEFAULT_MAX_SEND_MESSAGE_LENGTH = -1;

function numberOption(options: ServerOptions | undefined, key: string, fallback: number): number {
  const value: unknown = options?.[key];
  return typeof value === "number" ? value : fallback;
}

/** Default grace period of `OffloadServer.shutdown`. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

// The credentials for grpc-js, and the TLS options for the native transport (undefined: plaintext).
function resolveCredentials(
  credentials: OffloadCredentials | ServerCredentials,
  asked: OffloadTransport,
): { readonly grpc: ServerCredentials; readonly tls: TlsOptions | undefined } {
  if (isOffloadCredentials(credentials)) {
    return { grpc: grpcServerCredentials(credentials), tls: nativeTlsOptions(credentials) };
  }
  if (!(credentials instanceof ServerCredentials)) {
    throw new TypeError(
      "credentials: expected createTlsCredentials(...) or createInsecureCredentials() (or, with transport " +
        '"grpc-js", a grpc-js ServerCredentials)',
    );
  }
  if (asked === "native") {
    throw new TypeError(
      "credentials: the native transport takes createTlsCredentials(...) or createInsecureCredentials(), " +
        'not a grpc-js ServerCredentials; pass transport: "grpc-js" to use those',
    );
  }
  return { grpc: credentials, tls: undefined };
}

/** Creates an `OffloadServer`: a grpc-js server with the given services, not yet bound. */
export function createOffloadServer(options: OffloadServerOptions): OffloadServer {
  const { credentials, logger = createSilentLogger(), name = "offload" } = options;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  if (!Number.isFinite(shutdownTimeoutMs) || shutdownTimeoutMs < 0) {
    throw new RangeError(`shutdownTimeoutMs: must be a number >= 0, got ${shutdownTimeoutMs}`);
  }
  const counters: NativeCallCounters = { served: 0, forwarded: 0 };
  const chunkBytes = options.streamChunkBytes ?? DEFAULT_STREAM_CHUNK_BYTES;
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1024 || chunkBytes > 1024 * 1024) {
    throw new RangeError(`streamChunkBytes: must be an integer in 1024..1048576, got ${chunkBytes}`);
  }
  const routes = new Map((options.nativeRoutes ?? []).map((route) => [route.path, route] as const));
  const nativePossible = routes.size > 0 && !options.grpcOptions?.interceptors?.length;
  const callOptions = {
    maxReceiveMessageLength: numberOption(
      options.grpcOptions,
      "grpc.max_receive_message_length",
      DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH,
    ),
    maxSendMessageLength: numberOption(
      options.grpcOptions,
      "grpc.max_send_message_length",
      DEFAULT_MAX_SEND_MESSAGE_LENGTH,
    ),
    streamChunkBytes: chunkBytes,
  };
  const asked = options.transport ?? "native";
  const { grpc: grpcCredentials, tls } = resolveCredentials(credentials, asked);
  const transport: OffloadTransport = asked === "native" && nativePossible ? "native" : "grpc-js";
  // On grpc-js, a forced shutdown ends the calls in flight itself (see createInFlightCalls).
  const tracker = transport === "grpc-js" ? createInFlightCalls() : undefined;
  const observer = options.callObserver;
  const ownInterceptors = [
    ...(tracker === undefined ? [] : [tracker.interceptor]),
    ...(observer === undefined ? [] : [createObserverInterceptor(observer)]),
  ];
  const grpcServer = new Server(
    ownInterceptors.length === 0
      ? options.grpcOptions
      : { ...options.grpcOptions, interceptors: [...ownInterceptors, ...(options.grpcOptions?.interceptors ?? [])] },
  );
  options.install(grpcServer);

  // The native transport: our HTTP/2 in front, grpc-js behind it on a private Unix socket.
  let native: NativeServer | undefined;
  let proxy: UpstreamProxy | undefined;
  let privateDir: string | undefined;
  let upstreamBound: Promise<void> | undefined;
  const bindUpstream = (): Promise<void> =>
    (upstreamBound ??= new Promise<void>((resolve, reject) => {
      privateDir = mkdtempSync(join(tmpdir(), "offload-grpc-"));
      const socketPath = join(privateDir, "grpc.sock");
      grpcServer.bindAsync(`unix:${socketPath}`, ServerCredentials.createInsecure(), (err) => {
        if (err) {
          reject(err);
          return;
        }
        proxy = createUpstreamProxy(socketPath, callOptions.maxReceiveMessageLength);
        resolve();
      });
    }));
  const maxStreams = options.grpcOptions?.["grpc.max_concurrent_streams"];
  const limits = resolveTransportLimits({
    ...(typeof maxStreams === "number" ? { maxConcurrentStreams: maxStreams } : {}),
    ...options.limits,
  });
  const transportCounters = new TransportCounters();
  if (transport === "native") {
    const startCall = nativeCallStarter(routes.values(), observer);
    native = createNativeServer({
      tls,
      limits,
      counters: transportCounters,
      unary: createUnaryRouter(routes, callOptions, counters, startCall),
      onStream: createStreamDispatcher<NativeStream>({
        routes,
        counters,
        callOptions,
        startCall,
        fallback: (stream, headers) => {
          if (proxy === undefined) stream.close();
          else proxy.forward(stream, headers);
        },
      }),
    });
  }
  const removePrivateDir = (): void => {
    if (privateDir !== undefined) rmSync(privateDir, { recursive: true, force: true });
    privateDir = undefined;
  };

  const cancelEverything = (): void => {
    native?.destroy();
    proxy?.close();
    tracker?.cancelAll();
    grpcServer.forceShutdown();
    removePrivateDir();
  };
  const addOnStreams = new Set<EndableCall>();
  const tracked = trackStreams(grpcServer, addOnStreams);
  for (const addOn of options.addOns ?? []) addOn.addToServer(tracked);
  let stopping: Promise<void> | undefined;
  let notified = false;
  const notifyShutdown = (): void => {
    if (notified) return;
    notified = true;
    options.onShutdown?.();
    // After onShutdown, so that a health watcher has been told NOT_SERVING first.
    for (const call of addOnStreams) call.end();
    addOnStreams.clear();
  };

  const listenGrpcJs = (address: string): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      grpcServer.bindAsync(address, grpcCredentials, (err, port) => {
        if (err) reject(err);
        else resolve(port);
      });
    });
  const listenNative = async (server: NativeServer, address: string): Promise<number> => {
    const { host, port } = parseHostPort(address);
    await bindUpstream();
    return server.listen(host, port);
  };

  return {
    grpcServer,
    transport,
    nativeCalls: {
      get served() {
        return counters.served;
      },
      get forwarded() {
        return counters.forwarded;
      },
    },
    async listen(address) {
      const port = native === undefined ? await listenGrpcJs(address) : await listenNative(native, address);
      if (isLevelEnabled(logger, "debug")) logger.debug({ server: name, address, port, transport }, "bound");
      return port;
    },
    shutdown() {
      stopping ??= new Promise<void>((resolve) => {
        logger.info({ server: name }, "shutting down");
        notifyShutdown();
        let done = false;
        const finish = (): void => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          proxy?.close();
          removePrivateDir();
          logger.info({ server: name }, "stopped");
          resolve();
        };
        const timer = setTimeout(() => {
          logger.warn(
            { server: name, shutdownTimeoutMs },
            "calls still running after the grace period: cancelling them",
          );
          cancelEverything();
          // Do not rely on tryShutdown's callback after a forced stop: grpc-js 1.14.3
          // skips it when channelz is disabled (grpc.enable_channelz: 0).
          finish();
        }, shutdownTimeoutMs);
        const grpcStopped = new Promise<void>((stopped) => grpcServer.tryShutdown(() => stopped()));
        const nativeStopped = native?.goAway() ?? Promise.resolve();
        void Promise.all([grpcStopped, nativeStopped]).then(finish);
      });
      return stopping;
    },
    forceShutdown() {
      notifyShutdown();
      cancelEverything();
    },
    transportStats() {
      return transportCounters.snapshot();
    },
  };
}

import { SESSION_STATISTICS_SERVICE_NAME, SESSIONS_V1_FILE_DESCRIPTORS } from "@sessionoffload/offload-api/descriptors";
import {
  createNativeRoute,
  createOffloadServer,
  createStandardAddOns,
  type HostedServiceOptions,
  type OffloadServer,
} from "@sessionoffload/server-transport";
import { sessionsV1 } from "@sessionoffload/offload-api";
import type { SwitchBackend } from "@sessionoffload/switch-backend";
import { createSessionStatisticsHandlers, type StatisticsStreamHooks } from "./statistics-handlers";

const StatisticsService = sessionsV1.SessionStatisticsTableService;

/** Options of `createStatsServer`. */
export interface StatsServerOptions extends HostedServiceOptions {
  /** The switch whose table is streamed. The server does not close it. */
  readonly backend: SwitchBackend;
  /** Lease size of getClosedSessions; default 256. */
  readonly closedBatchSize?: number;
  /** Streaming progress observers. */
  readonly hooks?: StatisticsStreamHooks;
}

/**
 * Creates a server hosting `sessions.v1.SessionStatisticsTable` over
 * `backend`, with health and reflection unless turned off. On `shutdown()`
 * open streams stop at their next message (see
 * `SessionStatisticsHandlersOptions.signal`). Call `listen("127.0.0.1:3444")`
 * to bind and start it.
 */
export function createStatsServer(options: StatsServerOptions): OffloadServer {
  const stopping = new AbortController();
  const handlers = createSessionStatisticsHandlers({ ...options, signal: stopping.signal });
  const { addOns, notServing } = createStandardAddOns(
    { names: [SESSION_STATISTICS_SERVICE_NAME], descriptors: { "sessions.v1": SESSIONS_V1_FILE_DESCRIPTORS } },
    options,
  );
  return createOffloadServer({
    credentials: options.credentials,
    install: (server) => server.addService(sessionsV1.SessionStatisticsTableService, handlers),
    transport: options.transport,
    limits: options.limits,
    callObserver: options.callObserver,
    nativeRoutes: [
      createNativeRoute(StatisticsService.getAllSessions, handlers.getAllSessions, sessionsV1.sessionResponse),
      createNativeRoute(StatisticsService.getClosedSessions, handlers.getClosedSessions, sessionsV1.sessionResponse),
    ],
    addOns,
    onShutdown: () => {
      notServing();
      stopping.abort();
    },
    grpcOptions: options.grpcOptions,
    shutdownTimeoutMs: options.shutdownTimeoutMs,
    logger: options.logger,
    name: "stats",
  });
}

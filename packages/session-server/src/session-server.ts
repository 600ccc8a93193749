import {
  OPENOFFLOAD_SESSION_TABLE_SERVICE_NAME,
  OPENOFFLOAD_V1_FILE_DESCRIPTORS,
  SESSION_TABLE_SERVICE_NAME,
  SESSIONS_V1_FILE_DESCRIPTORS,
} from "@sessionoffload/offload-api/descriptors";
import {
  createNativeRoute,
  createOffloadServer,
  createStandardAddOns,
  type NativeRoute,
  type HostedServiceOptions,
  type OffloadServer,
} from "@sessionoffload/server-transport";
import { openoffloadV1, sessionsV1 } from "@sessionoffload/offload-api";
import type { SwitchBackend } from "@sessionoffload/switch-backend";
import { createOpenOffloadHandlers, type OpenOffloadHandlersOptions } from "./openoffload-handlers";
import { decodeSessionRequest, decodeSessionRequestAt } from "./openoffload-request-decoder";
import { createSessionTableHandlers } from "./session-table-handlers";

const { SessionTableService } = sessionsV1;
const OpenOffloadService = openoffloadV1.SessionTableService;

/** Options of `createSessionServer`. */
export interface SessionServerOptions extends HostedServiceOptions {
  /** The switch the sessions go to. The server does not close it. */
  readonly backend: SwitchBackend;
  /**
   * The second generation, `openoffload.v1.SessionTable`, on the same port over
   * the same backend: on by default (its tuning, or true); false to serve only
   * `sessions.v1.SessionTable`.
   */
  readonly openoffload?: boolean | Omit<OpenOffloadHandlersOptions, "backend" | "logger" | "clock" | "signal">;
}

/**
 * Creates a server hosting `sessions.v1.SessionTable` and (unless turned off)
 * `openoffload.v1.SessionTable` over `backend`: gRPC routes by path, so one
 * port serves both generations, and both share one table and one id space.
 * Health and reflection list both, unless turned off. On `shutdown()` an open
 * openoffload getClosedSessions stops at its next message. Call
 * `listen("127.0.0.1:3443")` to bind and start it.
 */
export function createSessionServer(options: SessionServerOptions): OffloadServer {
  const stopping = new AbortController();
  const handlers = createSessionTableHandlers(options);
  const second = options.openoffload ?? true;
  const openoffload =
    second === false
      ? undefined
      : createOpenOffloadHandlers({
          ...(second === true ? {} : second),
          backend: options.backend,
          logger: options.logger,
          signal: stopping.signal,
        });
  const { addOns, notServing } = createStandardAddOns(
    openoffload === undefined
      ? { names: [SESSION_TABLE_SERVICE_NAME], descriptors: { "sessions.v1": SESSIONS_V1_FILE_DESCRIPTORS } }
      : {
          names: [SESSION_TABLE_SERVICE_NAME, OPENOFFLOAD_SESSION_TABLE_SERVICE_NAME],
          descriptors: {
            "sessions.v1": SESSIONS_V1_FILE_DESCRIPTORS,
            "openoffload.v1": OPENOFFLOAD_V1_FILE_DESCRIPTORS,
          },
        },
    options,
  );
  const nativeRoutes: NativeRoute[] = [
    createNativeRoute(SessionTableService.addSession, handlers.addSession, sessionsV1.sessionResponse),
    createNativeRoute(SessionTableService.getSession, handlers.getSession, sessionsV1.sessionResponse),
    createNativeRoute(SessionTableService.deleteSession, handlers.deleteSession, sessionsV1.sessionResponse),
  ];
  if (openoffload !== undefined) {
    nativeRoutes.push(
      // The native route decodes requests with the fast decoder (the same results as ts-proto's).
      createNativeRoute(
        { ...OpenOffloadService.addSession, requestDeserialize: decodeSessionRequest },
        openoffload.addSession,
        openoffloadV1.addSessionResponse,
        { decodeRange: decodeSessionRequestAt },
      ),
      createNativeRoute(OpenOffloadService.getSession, openoffload.getSession, openoffloadV1.sessionResponse),
      createNativeRoute(OpenOffloadService.deleteSession, openoffload.deleteSession, openoffloadV1.sessionResponse),
      createNativeRoute(OpenOffloadService.getAllSessions, openoffload.getAllSessions, openoffloadV1.sessionResponses),
      createNativeRoute(
        OpenOffloadService.getClosedSessions,
        openoffload.getClosedSessions,
        openoffloadV1.sessionResponse,
      ),
    );
  }
  return createOffloadServer({
    credentials: options.credentials,
    install: (server) => {
      server.addService(sessionsV1.SessionTableService, handlers);
      if (openoffload !== undefined) server.addService(OpenOffloadService, openoffload);
    },
    transport: options.transport,
    limits: options.limits,
    callObserver: options.callObserver,
    nativeRoutes,
    addOns,
    onShutdown: () => {
      notServing();
      stopping.abort();
    },
    grpcOptions: options.grpcOptions,
    shutdownTimeoutMs: options.shutdownTimeoutMs,
    logger: options.logger,
    name: "sessions",
  });
}

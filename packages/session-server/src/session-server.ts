import { SESSION_TABLE_SERVICE_NAME, SESSIONS_V1_FILE_DESCRIPTORS } from "@sessionoffload/offload-api/descriptors";
import {
  createFastRoute,
  createOffloadServer,
  createStandardAddOns,
  type HostedServiceOptions,
  type OffloadServer,
} from "@sessionoffload/server-transport";
import { sessionsV1 } from "@sessionoffload/offload-api";
import type { SwitchBackend } from "@sessionoffload/switch-backend";
import { createSessionTableHandlers } from "./session-table-handlers";

const { SessionTableService } = sessionsV1;

/** Options of `createSessionServer`. */
export interface SessionServerOptions extends HostedServiceOptions {
  /** The switch the sessions go to. The server does not close it. */
  readonly backend: SwitchBackend;
}

/**
 * Creates a server hosting `sessions.v1.SessionTable` over `backend`, with
 * health and reflection unless turned off. Call `listen("127.0.0.1:3443")`
 * to bind and start it.
 */
export function createSessionServer(options: SessionServerOptions): OffloadServer {
  const handlers = createSessionTableHandlers(options);
  const { addOns, notServing } = createStandardAddOns(
    { names: [SESSION_TABLE_SERVICE_NAME], descriptors: { "sessions.v1": SESSIONS_V1_FILE_DESCRIPTORS } },
    options,
  );
  return createOffloadServer({
    credentials: options.credentials,
    install: (server) => server.addService(sessionsV1.SessionTableService, handlers),
    fastPath: options.fastPath,
    transport: options.transport,
    fastRoutes: [
      createFastRoute(SessionTableService.addSession, handlers.addSession, sessionsV1.sessionResponse),
      createFastRoute(SessionTableService.getSession, handlers.getSession, sessionsV1.sessionResponse),
      createFastRoute(SessionTableService.deleteSession, handlers.deleteSession, sessionsV1.sessionResponse),
    ],
    addOns,
    onShutdown: notServing,
    grpcOptions: options.grpcOptions,
    shutdownTimeoutMs: options.shutdownTimeoutMs,
    logger: options.logger,
    name: "sessions",
  });
}

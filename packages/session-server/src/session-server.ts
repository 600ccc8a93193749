import type { ServerCredentials, ServerOptions } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { ReflectionService } from "@grpc/reflection";
import {
  createFastRoute,
  createOffloadServer,
  createReflectionPackageDefinition,
  SESSION_TABLE_SERVICE_NAME,
  sessionsV1,
  type Clock,
  type Logger,
  type OffloadServer,
  type OffloadTransport,
  type ServerAddOn,
} from "@sessionoffload/offload-api";
import type { SwitchBackend } from "@sessionoffload/switch-backend";
import { createSessionTableHandlers } from "./session-table-handlers";

const { SessionTableService } = sessionsV1;

/** Options of `createSessionServer`. */
export interface SessionServerOptions {
  /** The switch the sessions go to. The server does not close it. */
  readonly backend: SwitchBackend;
  /**
   * Transport security: `ServerCredentials.createSsl(...)` for TLS (and mutual
   * TLS). There is no default: plaintext only with an explicit
   * `ServerCredentials.createInsecure()`.
   */
  readonly credentials: ServerCredentials;
  /** Structured log; default silent. */
  readonly logger?: Logger;
  /** Clock of the debug request timings; default the system clock. */
  readonly clock?: Clock;
  /** Serve grpc.health.v1.Health ("" and sessions.v1.SessionTable); default true. */
  readonly health?: boolean;
  /** Serve gRPC server reflection (v1 and v1alpha) for sessions.v1.SessionTable; default true. */
  readonly reflection?: boolean;
  /** grpc-js server options. */
  readonly grpcOptions?: ServerOptions;
  /** Grace period of `shutdown()` before in-flight calls are cancelled; default 10,000 ms. */
  readonly shutdownTimeoutMs?: number;
  /** Serve the three methods on the fast path (see `OffloadServerOptions.fastRoutes`); default true. */
  readonly fastPath?: boolean;
  /** "native" (default): the server's own HTTP/2 in front of grpc-js; "grpc-js": grpc-js listens (see `OffloadServerOptions.transport`). */
  readonly transport?: OffloadTransport;
}

/**
 * Creates a server hosting `sessions.v1.SessionTable` over `backend`, with
 * health and reflection unless turned off. Call `listen("127.0.0.1:3443")`
 * to bind and start it.
 */
export function createSessionServer(options: SessionServerOptions): OffloadServer {
  const handlers = createSessionTableHandlers(options);
  const addOns: ServerAddOn[] = [];
  let health: HealthImplementation | undefined;
  if (options.health ?? true) {
    health = new HealthImplementation({ "": "SERVING", [SESSION_TABLE_SERVICE_NAME]: "SERVING" });
    addOns.push(health);
  }
  if (options.reflection ?? true) {
    addOns.push(new ReflectionService(createReflectionPackageDefinition(), { services: [SESSION_TABLE_SERVICE_NAME] }));
  }
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
    onShutdown: () => {
      health?.setStatus("", "NOT_SERVING");
      health?.setStatus(SESSION_TABLE_SERVICE_NAME, "NOT_SERVING");
    },
    grpcOptions: options.grpcOptions,
    shutdownTimeoutMs: options.shutdownTimeoutMs,
    logger: options.logger,
    name: "sessions",
  });
}

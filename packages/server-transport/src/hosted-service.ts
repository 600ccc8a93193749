import type { ServerOptions } from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import type { Clock, Logger } from "@sessionoffload/offload-api";
import type { CallObserver } from "./call-observer";
import type { TransportLimits } from "./limits";
import type { OffloadServerOptions, OffloadTransport, ServerAddOn } from "./offload-server";
import { createReflectionPackageDefinition } from "./reflection-descriptor";

/** What the session server and the statistics server both take, besides their switch. */
export interface HostedServiceOptions {
  /**
   * Transport security: `createTlsCredentials(...)` for TLS (and mutual TLS).
   * There is no default: plaintext only with an explicit
   * `createInsecureCredentials()`. See `OffloadServerOptions.credentials`.
   */
  readonly credentials: OffloadServerOptions["credentials"];
  /** Structured log; default silent. */
  readonly logger?: Logger;
  /** Clock of the debug timings; default the system clock. */
  readonly clock?: Clock;
  /** Serve grpc.health.v1.Health for "" and the hosted service; default true. */
  readonly health?: boolean;
  /** Serve gRPC server reflection (v1 and v1alpha) for the hosted service; default true. */
  readonly reflection?: boolean;
  /** grpc-js server options. */
  readonly grpcOptions?: ServerOptions;
  /** Grace period of `shutdown()` before in-flight calls are cancelled; default 10,000 ms. */
  readonly shutdownTimeoutMs?: number;
  /** "native" (default): the server's own HTTP/2 in front of grpc-js; "grpc-js": grpc-js listens (see `OffloadServerOptions.transport`). */
  readonly transport?: OffloadTransport;
  /** Limits of the native transport over `DEFAULT_TRANSPORT_LIMITS` (see `OffloadServerOptions.limits`). */
  readonly limits?: Partial<TransportLimits>;
  /** Told about every call, for metrics (see `OffloadServerOptions.callObserver`). */
  readonly callObserver?: CallObserver;
}

/** Health and reflection of one hosted service. */
export interface StandardAddOns {
  /** To pass as `OffloadServerOptions.addOns`. */
  readonly addOns: readonly ServerAddOn[];
  /** Turns health to NOT_SERVING for "" and the services (for `onShutdown`); nothing without health. */
  notServing(): void;
}

/** The services a server hosts, as health and reflection describe them. */
export interface HostedServices {
  /** Fully qualified service names, e.g. "sessions.v1.SessionTable". */
  readonly names: readonly string[];
  /** Base64 FileDescriptorProtos per proto package (dependencies first), for reflection. */
  readonly descriptors: Readonly<Record<string, readonly string[]>>;
}

/**
 * Health (SERVING for "" and each hosted service) and reflection for the
 * hosted services, each unless `options` turns it off.
 */
export function createStandardAddOns(
  services: HostedServices,
  options: Pick<HostedServiceOptions, "health" | "reflection">,
): StandardAddOns {
  const addOns: ServerAddOn[] = [];
  let health: HealthImplementation | undefined;
  if (options.health ?? true) {
    health = new HealthImplementation({
      "": "SERVING",
      ...Object.fromEntries(services.names.map((name) => [name, "SERVING" as const])),
    });
    addOns.push(health);
  }
  if (options.reflection ?? true) {
    const definition = createReflectionPackageDefinition(services.descriptors);
    addOns.push(new ReflectionService(definition, { services: [...services.names] }));
  }
  return {
    addOns,
    notServing() {
      health?.setStatus("", "NOT_SERVING");
      for (const name of services.names) health?.setStatus(name, "NOT_SERVING");
    },
  };
}

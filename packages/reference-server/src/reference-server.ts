import type { ServiceDefinition } from "@grpc/grpc-js";
import { openoffloadV1, sessionsV1, type Clock, type Logger } from "@sessionoffload/offload-api";
import type { OffloadServer } from "@sessionoffload/server-transport";
import { createSessionServer } from "@sessionoffload/session-server";
import { createStatsServer } from "@sessionoffload/stats-server";
import type { SwitchBackend } from "@sessionoffload/switch-backend";
import { createBackend, effectiveCapacity } from "./backend-factory";
import type { ReferenceServerConfig, ServiceName } from "./command-line";
import { createMetricsServer, createServerMetrics, type LabelledTransportStats, type MetricsServer } from "./metrics";
import { coversAny } from "./dev-tls";
import { namesForHost } from "./host-names";
import { buildServerCredentials, type TlsConfig } from "./server-credentials";

/** A bound endpoint of a running reference server: a gRPC service, or the metrics. */
export interface Endpoint {
  /** Which service; "metrics" for `/metrics` (plain HTTP). */
  readonly service: ServiceName | "metrics";
  /** host:port as bound ("[::1]:3443" for IPv6). */
  readonly address: string;
  /** The port actually bound. */
  readonly port: number;
}

/** A running reference server: its ports, and how to stop it. */
export interface RunningReferenceServer {
  /** One per hosted service, in `config.services` order, then the metrics endpoint when on. */
  readonly endpoints: readonly Endpoint[];
  /** "off" (plaintext), "on", or "mutual" (client certificates required). */
  readonly tls: "off" | "on" | "mutual";
  /** The development CA clients must trust, when the server made or reused one. */
  readonly caCertPath: string | undefined;
  /** The switch behind both services. */
  readonly backend: SwitchBackend;
  /** Graceful: in-flight calls finish, streams end, then the switch closes. Idempotent. */
  stop(): Promise<void>;
  /** Cancels in-flight calls and closes the switch at once. */
  forceStop(): void;
}

/** A service could not bind its address (a port in use, an address not on this host). */
export class ListenError extends Error {
  override readonly name = "ListenError";
  constructor(
    readonly service: ServiceName | "metrics",
    readonly address: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot listen on ${address} for ${service}: ${reason}`, options);
  }
}

/** What `startReferenceServer` may be given besides the configuration. */
export interface ReferenceServerDeps {
  /** The structured log. */
  readonly logger: Logger;
  /** Time source of the switch and the request timings; default the system clock. */
  readonly clock?: Clock;
}

// The development certificate must cover the address the server listens on (and the machine's name).
async function coveringHost(tls: TlsConfig, host: string): Promise<TlsConfig> {
  if (tls.mode !== "dev") return tls;
  return { ...tls, dev: { ...tls.dev, names: await namesForHost(host) } };
}

// The gRPC services each server hosts, whose metric series start at zero (every method, every code).
const SERVICE_DEFINITIONS: Record<ServiceName, readonly ServiceDefinition[]> = {
  sessions: [sessionsV1.SessionTableService, openoffloadV1.SessionTableService],
  stats: [sessionsV1.SessionStatisticsTableService],
};

// The transport counts of each server (all zero on the grpc-js transport).
function transportStatsOf(servers: readonly OffloadServer[], names: readonly ServiceName[]): LabelledTransportStats[] {
  return servers.map((server, i) => ({ server: names[i] ?? "unknown", stats: server.transportStats() }));
}

/** Formats host and port as a gRPC address: IPv6 literals in brackets. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

function bindReason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  if (text.includes("EADDRINUSE")) return "address already in use";
  if (text.includes("key values mismatch")) return "the TLS private key does not match the certificate";
  if (text.includes("EACCES")) return "permission denied";
  if (text.includes("EADDRNOTAVAIL")) return "address not available on this host";
  if (text.includes("ENOTFOUND") || text.includes("Name resolution failed")) return "host name not found";
  return text;
}

/**
 * Starts the reference server: the switch, then one gRPC server per service
 * on its own port, all with the configured credentials, health and
 * reflection. Throws `ListenError` when a port cannot be bound (whatever had
 * started is stopped first), `TlsFileError` for an unreadable TLS file, and
 * the switch's own error for a bad switch setting or an unusable store
 * (`SwitchOptionError`, `SqliteSwitchOpenError`, `NftError`).
 */
export async function startReferenceServer(
  config: ReferenceServerConfig,
  deps: ReferenceServerDeps,
): Promise<RunningReferenceServer> {
  const { logger, clock } = deps;
  const built = buildServerCredentials(await coveringHost(config.tls, config.host));
  const certificate = built.serverCertificate;
  if (
    config.tls.mode === "files" &&
    certificate !== undefined &&
    !coversAny(certificate, await namesForHost(config.host))
  ) {
    logger.warn(
      { host: config.host, certificateNames: certificate.subjectAltName },
      "the --tls-cert certificate names neither --host nor this machine: clients must connect by a name it has",
    );
  }
  const backend = await createBackend(config.backend, { clock, logger });
  const servers: OffloadServer[] = [];
  const names: ServiceName[] = [];
  const metrics =
    config.metrics === undefined
      ? undefined
      : createServerMetrics({
          backend,
          capacity: effectiveCapacity(config.backend),
          services: config.services.flatMap((s) => SERVICE_DEFINITIONS[s]),
          transportStats: () => transportStatsOf(servers, names),
          logger,
        });
  const common = {
    // With metrics on, the handlers see the switch through the counting decorator.
    backend: metrics?.backend ?? backend,
    credentials: built.credentials,
    logger,
    clock,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    transport: config.transport,
    limits: config.limits,
    // With metrics on, both servers report every call to the gRPC metrics.
    callObserver: metrics?.rpc,
  };
  const endpoints: Endpoint[] = [];
  let metricsServer: MetricsServer | undefined;
  try {
    for (const service of config.services) {
      const server = service === "sessions" ? createSessionServer(common) : createStatsServer(common);
      servers.push(server);
      names.push(service);
      const wanted = formatHostPort(config.host, service === "sessions" ? config.sessionsPort : config.statsPort);
      let port: number;
      try {
        port = await server.listen(wanted);
      } catch (err) {
        throw new ListenError(service, wanted, bindReason(err), { cause: err });
      }
      endpoints.push({ service, address: formatHostPort(config.host, port), port });
    }
    if (metrics !== undefined && config.metrics !== undefined) {
      metricsServer = createMetricsServer({ collect: () => metrics.collect(), logger });
      const wanted = formatHostPort(config.metrics.host, config.metrics.port);
      let port: number;
      try {
        port = await metricsServer.listen(config.metrics.host, config.metrics.port);
      } catch (err) {
        throw new ListenError("metrics", wanted, bindReason(err), { cause: err });
      }
      endpoints.push({ service: "metrics", address: formatHostPort(config.metrics.host, port), port });
    }
    for (const e of endpoints) logger.info({ service: e.service, address: e.address, port: e.port }, "listening");
  } catch (err) {
    for (const server of servers) server.forceShutdown();
    await metricsServer?.close();
    await backend.close();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    endpoints,
    tls: config.tls.mode === "insecure" ? "off" : built.mutualTls ? "mutual" : "on",
    caCertPath: built.caCertPath,
    backend,
    stop() {
      stopping ??= (async () => {
        await Promise.all(servers.map((s) => s.shutdown()));
        // Metrics stay up while calls drain, so that the last scrape sees the shutdown.
        await metricsServer?.close();
        await backend.close();
      })();
      return stopping;
    },
    forceStop() {
      for (const server of servers) server.forceShutdown();
      void metricsServer?.close();
      void backend.close();
    },
  };
}

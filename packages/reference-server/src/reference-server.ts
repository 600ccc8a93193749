import type { Clock, Logger } from "@sessionoffload/offload-api";
import type { OffloadServer } from "@sessionoffload/server-transport";
import { createSessionServer } from "@sessionoffload/session-server";
import { createStatsServer } from "@sessionoffload/stats-server";
import type { SwitchBackend } from "@sessionoffload/switch-backend";
import { createBackend } from "./backend-factory";
import type { ReferenceServerConfig, ServiceName } from "./command-line";
import { buildServerCredentials } from "./server-credentials";

/** A bound service of a running reference server. */
export interface Endpoint {
  /** Which service. */
  readonly service: ServiceName;
  /** host:port as bound ("[::1]:3443" for IPv6). */
  readonly address: string;
  /** The port actually bound. */
  readonly port: number;
}

/** A running reference server: its ports, and how to stop it. */
export interface RunningReferenceServer {
  /** One per hosted service, in `config.services` order. */
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
    readonly service: ServiceName,
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
  const built = buildServerCredentials(config.tls);
  const backend = await createBackend(config.backend, { clock, logger });
  const common = {
    backend,
    credentials: built.credentials,
    logger,
    clock,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    transport: config.transport,
  };
  const servers: OffloadServer[] = [];
  const endpoints: Endpoint[] = [];
  try {
    for (const service of config.services) {
      const server = service === "sessions" ? createSessionServer(common) : createStatsServer(common);
      servers.push(server);
      const wanted = formatHostPort(config.host, service === "sessions" ? config.sessionsPort : config.statsPort);
      let port: number;
      try {
        port = await server.listen(wanted);
      } catch (err) {
        throw new ListenError(service, wanted, bindReason(err), { cause: err });
      }
      endpoints.push({ service, address: formatHostPort(config.host, port), port });
    }
    for (const e of endpoints) logger.info({ service: e.service, address: e.address, port: e.port }, "listening");
  } catch (err) {
    for (const server of servers) server.forceShutdown();
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
        await backend.close();
      })();
      return stopping;
    },
    forceStop() {
      for (const server of servers) server.forceShutdown();
      void backend.close();
    },
  };
}

import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { MAX_CAPACITY } from "@sessionoffload/switch-backend";
import { BACKEND_KINDS, DEFAULT_DB_PATH, type BackendConfig, type BackendKind } from "./backend-factory";
import type { TransportLimits } from "@sessionoffload/server-transport";
import type { TlsConfig } from "./server-credentials";
import { packageVersion } from "./version";

/** The services the command can host. */
export const SERVICE_NAMES = ["sessions", "stats"] as const;
/** One of `SERVICE_NAMES`. */
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Log levels `--log-level` accepts (pino's). */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
/** One of `LOG_LEVELS`. */
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** Formats `--log-format` accepts: JSON lines (for a log pipeline) or pino-pretty's text (for a person). */
export const LOG_FORMATS = ["json", "pretty"] as const;
/** One of `LOG_FORMATS`. */
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Where `/metrics` is served (plain HTTP). */
export interface MetricsEndpointConfig {
  /** Address to bind; default 127.0.0.1. */
  readonly host: string;
  /** Port; 0 = any free port. */
  readonly port: number;
}

/** Everything the command line decides, validated. */
export interface ReferenceServerConfig {
  /** Services to host, each on its own port. */
  readonly services: readonly ServiceName[];
  /** Address to bind (IPv4, IPv6 or a name). */
  readonly host: string;
  /** Port of the sessions service; 0 = any free port. */
  readonly sessionsPort: number;
  /** Port of the statistics service; 0 = any free port. */
  readonly statsPort: number;
  /** Transport security. */
  readonly tls: TlsConfig;
  /** Which switch, and its settings. */
  readonly backend: BackendConfig;
  /** Level of the structured log on stderr. */
  readonly logLevel: LogLevelName;
  /** Form of the log on stderr. */
  readonly logFormat: LogFormat;
  /** The Prometheus endpoint (`--metrics-port`); undefined = off. */
  readonly metrics?: MetricsEndpointConfig;
  /** Grace period for in-flight calls on SIGINT/SIGTERM, in milliseconds. */
  readonly shutdownTimeoutMs: number;
  /** The HTTP/2 transport: native (default) or grpc-js. */
  readonly transport: "native" | "grpc-js";
  /** Limits of the native transport given on the command line (the rest are its defaults). */
  readonly limits: Partial<TransportLimits>;
}

/** A bad command line: one line saying which flag and why. The command exits with code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The command line's outcome: a configuration to run, or text already shown (help, version). */
export type ParsedCommandLine =
  { readonly kind: "run"; readonly config: ReferenceServerConfig } | { readonly kind: "shown" };

/** Where `parseCommandLine` writes help and version text, and what environment it reads. */
export interface CommandLineIo {
  /** Help and version output; default process.stdout. */
  readonly writeOut?: (text: string) => void;
  /** Environment (OFFLOAD_TLS_DIR, OFFLOAD_DB); default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

function integerIn(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be an integer in ${min}..${max}`);
    }
    return n;
  };
}

const DAY_S = 86_400;
function seconds(value: string): number {
  const s = Number(value);
  if (value.trim() === "" || !Number.isFinite(s) || s < 0.001 || s > 365 * DAY_S) {
    throw new InvalidArgumentError(`must be a number of seconds in 0.001..${365 * DAY_S}`);
  }
  return Math.round(s * 1000);
}

function secondsOrZero(value: string): number {
  return value.trim() === "0" ? 0 : seconds(value);
}

function serviceList(value: string): ServiceName[] {
  const names = value.split(",").map((s) => s.trim());
  const out: ServiceName[] = [];
  for (const name of names) {
    if (!(SERVICE_NAMES as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(`unknown service "${name}"; choose from ${SERVICE_NAMES.join(", ")}`);
    }
    if (!out.includes(name as ServiceName)) out.push(name as ServiceName);
  }
  return out;
}

function onOff(value: string): boolean {
  if (value === "on") return true;
  if (value === "off") return false;
  throw new InvalidArgumentError('must be "on" or "off"');
}

function nonEmpty(value: string): string {
  if (value.trim() === "") throw new InvalidArgumentError("must not be empty");
  return value;
}

/** The commander program of `offload-server`, with every flag and its default. */
export function createProgram(): Command {
  return new Command("offload-server")
    .description(
      "Reference session offload server: sessions.v1 SessionTable and SessionStatisticsTable over a " +
        "simulated switch. TLS by default: without --tls-cert/--tls-key, a development CA and a server " +
        "certificate for localhost, 127.0.0.1, ::1, --host and this machine's name are made on first start " +
        "in --tls-dir; clients must trust its ca.crt.",
    )
    .addOption(
      new Option("--services <list>", "services to host, comma-separated")
        .default(["sessions", "stats"], "sessions,stats")
        .argParser(serviceList),
    )
    .addOption(new Option("--host <host>", "address to listen on").default("127.0.0.1").argParser(nonEmpty))
    .addOption(
      new Option("--sessions-port <port>", "port of the sessions service (0 = any free port)")
        .default(3443)
        .argParser(integerIn(0, 65535)),
    )
    .addOption(
      new Option("--stats-port <port>", "port of the statistics service (0 = any free port)")
        .default(3444)
        .argParser(integerIn(0, 65535)),
    )
    .addOption(new Option("--insecure", "serve plaintext (no TLS)"))
    .addOption(new Option("--tls-cert <file>", "server certificate chain (PEM); needs --tls-key").argParser(nonEmpty))
    .addOption(new Option("--tls-key <file>", "server private key (PEM); needs --tls-cert").argParser(nonEmpty))
    .addOption(
      new Option("--tls-client-ca <file>", "require client certificates signed by this CA (mutual TLS)").argParser(
        nonEmpty,
      ),
    )
    .addOption(
      new Option(
        "--tls-dir <dir>",
        "folder of the development CA and certificate (default: $OFFLOAD_TLS_DIR or ./.offload/tls)",
      ).argParser(nonEmpty),
    )
    .addOption(
      new Option(
        "--backend <kind>",
        "switch backend: memory (in process), sqlite (a database file shared by processes, survives restarts), " +
          "nftables (the Linux kernel's data plane; root)",
      )
        .choices(BACKEND_KINDS)
        .default(undefined, "memory when one process hosts both services, else sqlite"),
    )
    .addOption(
      new Option(
        "--db <path>",
        `database file of the sqlite backend (default: $OFFLOAD_DB or ./${DEFAULT_DB_PATH})`,
      ).argParser(nonEmpty),
    )
    .addOption(
      new Option(
        "--db-sync <mode>",
        "sqlite durability: full = an accepted add survives a power cut; normal = it survives a crash of the " +
          "process (WAL), about twice as fast",
      )
        .choices(["full", "normal"])
        .default("full"),
    )
    .addOption(
      new Option(
        "--netns <name>",
        "network namespace the nftables backend programs (default: the current one)",
      ).argParser(nonEmpty),
    )
    .addOption(
      new Option("--max-sessions <n>", "table capacity (default 1000000)").argParser(integerIn(1, MAX_CAPACITY)),
    )
    .addOption(
      new Option(
        "--tcp-idle-timeout <seconds>",
        "idle time that ends a TCP session (default 3600; fractions allowed)",
      ).argParser(seconds),
    )
    .addOption(
      new Option(
        "--udp-idle-timeout <seconds>",
        "idle time that ends a UDP session (default 30; fractions allowed)",
      ).argParser(seconds),
    )
    .addOption(
      new Option(
        "--traffic <on|off>",
        "simulated traffic model; off = counters stay 0, only idle timeouts end sessions",
      )
        .default(true, "on")
        .argParser(onOff),
    )
    .addOption(
      new Option("--seed <n>", "seed of the traffic model (default 1)").argParser(
        integerIn(-(2 ** 53) + 1, 2 ** 53 - 1),
      ),
    )
    .addOption(
      new Option("--log-level <level>", "log level of the JSON log on stderr").choices(LOG_LEVELS).default("info"),
    )
    .addOption(
      new Option("--log-format <format>", "log on stderr as JSON lines, or pretty for a person at a terminal")
        .choices(LOG_FORMATS)
        .default("json"),
    )
    .addOption(
      new Option(
        "--metrics-port <port>",
        "serve Prometheus metrics on http://HOST:PORT/metrics (0 = any free port; default: off)",
      ).argParser(integerIn(0, 65535)),
    )
    .addOption(
      new Option("--metrics-host <host>", "address of the metrics endpoint (plain HTTP)")
        .default("127.0.0.1")
        .argParser(nonEmpty),
    )
    .addOption(
      new Option("--shutdown-timeout <seconds>", "grace period for in-flight calls on SIGINT/SIGTERM")
        .default(10_000, "10")
        .argParser(seconds),
    )
    .addOption(
      new Option(
        "--transport <kind>",
        "HTTP/2 transport: native = our own HTTP/2 server, forwarding other calls to grpc-js; grpc-js = grpc-js alone",
      )
        .choices(["native", "grpc-js"])
        .default("native"),
    )
    .addOption(
      new Option("--max-connections <n>", "native transport: connections served at once (default 1000)").argParser(
        integerIn(1, 1_000_000),
      ),
    )
    .addOption(
      new Option(
        "--max-concurrent-streams <n>",
        "native transport: streams per connection, advertised and enforced (default 100)",
      ).argParser(integerIn(1, 0x7fffffff)),
    )
    .addOption(
      new Option(
        "--max-header-list-size <bytes>",
        "native transport: decoded request header list, name + value + 32 per field (default 65536)",
      ).argParser(integerIn(1024, 16 * 1024 * 1024)),
    )
    .addOption(
      new Option(
        "--max-resets-per-second <n>",
        "native transport: stream resets per second before GOAWAY ENHANCE_YOUR_CALM (default 500)",
      ).argParser(integerIn(1, 0x7fffffff)),
    )
    .addOption(
      new Option(
        "--max-empty-frames-per-second <n>",
        "native transport: frames that do no work (empty DATA, PRIORITY, unasked WINDOW_UPDATE, unknown types) " +
          "per second before GOAWAY ENHANCE_YOUR_CALM (default 1000)",
      ).argParser(integerIn(1, 0x7fffffff)),
    )
    .addOption(
      new Option(
        "--max-queued-bytes <bytes>",
        "native transport: bytes a connection that does not read may hold queued (default 4194304)",
      ).argParser(integerIn(64 * 1024, 2 ** 40)),
    )
    .addOption(
      new Option(
        "--max-held-request-bytes <bytes>",
        "native transport: request bytes received and not yet consumed, over all connections; above it the " +
          "connection holding the most gets GOAWAY ENHANCE_YOUR_CALM (default 268435456)",
      ).argParser(integerIn(64 * 1024, 2 ** 40)),
    )
    .addOption(
      new Option(
        "--connection-idle-timeout <seconds>",
        "native transport: GOAWAY to a connection without streams for this long (default 300; 0 = never)",
      ).argParser(secondsOrZero),
    )
    .addOption(
      new Option(
        "--keepalive-interval <seconds>",
        "native transport: PING a client silent for this long (default 7200; 0 = never)",
      ).argParser(secondsOrZero),
    )
    .addOption(
      new Option(
        "--keepalive-timeout <seconds>",
        "native transport: close a connection whose keepalive PING is not answered in this long (default 20)",
      ).argParser(seconds),
    )
    .helpOption("-h, --help", "show this help")
    .version(packageVersion(), "-V, --version", "print the version and exit")
    .allowExcessArguments(false);
}

interface RawOptions {
  services: ServiceName[];
  host: string;
  sessionsPort: number;
  statsPort: number;
  insecure?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  tlsDir?: string;
  backend?: BackendKind;
  db?: string;
  dbSync: "full" | "normal";
  netns?: string;
  maxSessions?: number;
  tcpIdleTimeout?: number;
  udpIdleTimeout?: number;
  traffic: boolean;
  seed?: number;
  logLevel: LogLevelName;
  logFormat: LogFormat;
  metricsPort?: number;
  metricsHost: string;
  shutdownTimeout: number;
  transport: "native" | "grpc-js";
  maxConnections?: number;
  maxConcurrentStreams?: number;
  maxHeaderListSize?: number;
  maxResetsPerSecond?: number;
  maxEmptyFramesPerSecond?: number;
  maxQueuedBytes?: number;
  maxHeldRequestBytes?: number;
  connectionIdleTimeout?: number;
  keepaliveInterval?: number;
  keepaliveTimeout?: number;
}

// The transport limits the command line set (undefined ones are left to the defaults).
function transportLimits(o: RawOptions): Partial<TransportLimits> {
  const limits: Partial<Record<keyof TransportLimits, number | undefined>> = {
    maxConnections: o.maxConnections,
    maxConcurrentStreams: o.maxConcurrentStreams,
    maxHeaderListBytes: o.maxHeaderListSize,
    maxResetsPerWindow: o.maxResetsPerSecond,
    maxEmptyFramesPerWindow: o.maxEmptyFramesPerSecond,
    maxQueuedBytes: o.maxQueuedBytes,
    maxHeldRequestBytes: o.maxHeldRequestBytes,
    idleTimeoutMs: o.connectionIdleTimeout,
    keepaliveIntervalMs: o.keepaliveInterval,
    keepaliveTimeoutMs: o.keepaliveTimeout,
  };
  return Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) as Partial<TransportLimits>;
}

function tlsConfig(o: RawOptions): TlsConfig {
  if (o.insecure) {
    const clash = [o.tlsCert && "--tls-cert", o.tlsKey && "--tls-key", o.tlsClientCa && "--tls-client-ca"].filter(
      Boolean,
    );
    if (clash.length > 0) throw new UsageError(`--insecure cannot be combined with ${clash.join(", ")}`);
    return { mode: "insecure" };
  }
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) {
    throw new UsageError(o.tlsCert === undefined ? "--tls-key needs --tls-cert" : "--tls-cert needs --tls-key");
  }
  if (o.tlsCert !== undefined && o.tlsKey !== undefined) {
    if (o.tlsDir !== undefined)
      throw new UsageError("--tls-dir is for the development CA; do not combine it with --tls-cert");
    return { mode: "files", certPath: o.tlsCert, keyPath: o.tlsKey, clientCaPath: o.tlsClientCa };
  }
  return { mode: "dev", dev: { dir: o.tlsDir }, clientCaPath: o.tlsClientCa };
}

/**
 * Parses `argv` (without node and the script). Answers the configuration, or
 * `shown` after writing help. Throws `UsageError` with one line naming the
 * flag and the reason for anything wrong.
 */
export function parseCommandLine(argv: readonly string[], io: CommandLineIo = {}): ParsedCommandLine {
  const writeOut = io.writeOut ?? ((text: string) => void process.stdout.write(text));
  const program = createProgram()
    .exitOverride()
    .configureOutput({ writeOut, writeErr: () => undefined, outputError: () => undefined });
  try {
    program.parse([...argv], { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return { kind: "shown" };
      throw new UsageError(err.message.replace(/^error: /, ""));
    }
    throw err;
  }
  const o = program.opts<RawOptions>();
  if (o.services.length === 0) throw new UsageError("--services: name at least one service");
  const both = o.services.includes("sessions") && o.services.includes("stats");
  if (both && o.sessionsPort !== 0 && o.sessionsPort === o.statsPort) {
    throw new UsageError(
      `--sessions-port and --stats-port are both ${o.sessionsPort}; each service needs its own port`,
    );
  }
  if (o.metricsPort === undefined && program.getOptionValueSource("metricsHost") === "cli") {
    throw new UsageError("--metrics-host needs --metrics-port");
  }
  const backendKind: BackendKind = o.backend ?? (both ? "memory" : "sqlite");
  if (o.db !== undefined && backendKind !== "sqlite")
    throw new UsageError(`--db is for --backend sqlite, not ${backendKind}`);
  if (o.netns !== undefined && backendKind !== "nftables") {
    throw new UsageError(`--netns is for --backend nftables, not ${backendKind}`);
  }
  const env = io.env ?? process.env;
  const config: ReferenceServerConfig = {
    services: o.services,
    host: o.host,
    sessionsPort: o.sessionsPort,
    statsPort: o.statsPort,
    tls: tlsConfig(o),
    backend: {
      kind: backendKind,
      dbPath: backendKind === "sqlite" ? (o.db ?? env.OFFLOAD_DB ?? DEFAULT_DB_PATH) : undefined,
      dbSync: backendKind === "sqlite" ? o.dbSync : undefined,
      netns: o.netns,
      maxSessions: o.maxSessions,
      tcpIdleTimeoutMs: o.tcpIdleTimeout,
      udpIdleTimeoutMs: o.udpIdleTimeout,
      traffic: o.traffic,
      seed: o.seed,
    },
    logLevel: o.logLevel,
    logFormat: o.logFormat,
    ...(o.metricsPort === undefined ? {} : { metrics: { host: o.metricsHost, port: o.metricsPort } }),
    shutdownTimeoutMs: o.shutdownTimeout,
    transport: o.transport,
    limits: transportLimits(o),
  };
  if (config.tls.mode === "dev" && io.env !== undefined) {
    return { kind: "run", config: { ...config, tls: { ...config.tls, dev: { ...config.tls.dev, env: io.env } } } };
  }
  return { kind: "run", config };
}

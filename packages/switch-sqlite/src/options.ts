import { createSilentLogger, createSystemClock, type Clock, type Logger } from "@sessionoffload/offload-api";
import {
  MAX_CAPACITY,
  SwitchOptionError,
  type MemorySwitchOptions,
  type RandomSource,
  type TrafficModelOptions,
} from "@sessionoffload/switch-backend";
import { checkIntegerOption, resolveMemorySwitchOptions } from "@sessionoffload/switch-backend/kit";

/**
 * Options of `createSqliteSwitch`: the memory switch's options (same names,
 * defaults and validation) plus the database file and its tuning.
 */
export interface SqliteSwitchOptions extends MemorySwitchOptions {
  /** The database file; created (with its directory's -wal and -shm files beside it) if absent. Required. */
  readonly path: string;
  /**
   * `PRAGMA synchronous` in WAL mode; default "full": each group commit is
   * fsynced, so an accepted add survives a power cut as well as a crash.
   * "normal" survives a process crash (SIGKILL) but may lose the last commits on a power cut.
   */
  readonly synchronous?: "full" | "normal";
  /** How long a write waits for another process's lock before failing; default 5000 ms. */
  readonly busyTimeoutMs?: number;
  /** An owner (and the leader) not heard from for this long is taken over; default 5000 ms. */
  readonly leaseTimeoutMs?: number;
  /** Period of the (unref'd) owner heartbeat; default 1000 ms; must be below `leaseTimeoutMs`. */
  readonly heartbeatIntervalMs?: number;
  /** Most adds committed in one group transaction; default 1024. */
  readonly maxBatch?: number;
  /** Rows read per page by `sessions()`; default 256. */
  readonly pageSize?: number;
  /** Where failures of the background heartbeat and tick are reported (warn); default silent. */
  readonly logger?: Logger;
}

/** Options after validation, with defaults filled in. */
export interface ResolvedSqliteSwitchOptions {
  readonly path: string;
  readonly capacity: number;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly tcpIdleTimeoutMs: number;
  readonly udpIdleTimeoutMs: number;
  readonly traffic: TrafficModelOptions | undefined;
  readonly tickIntervalMs: number;
  readonly firstId: bigint;
  readonly synchronous: "full" | "normal";
  readonly busyTimeoutMs: number;
  readonly leaseTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly maxBatch: number;
  readonly pageSize: number;
  readonly logger: Logger;
}

const MINUTE_MS = 60_000;

/** Validates `options` and fills defaults; throws SwitchOptionError naming the first bad option. */
export function resolveSqliteSwitchOptions(options: SqliteSwitchOptions): ResolvedSqliteSwitchOptions {
  if (typeof options !== "object" || options === null) {
    throw new SwitchOptionError("options", "must be an object with at least `path`");
  }
  if (typeof options.path !== "string" || options.path === "" || options.path.includes("\0")) {
    throw new SwitchOptionError("path", `must be a non-empty file path, got ${String(options.path)}`);
  }
  if (options.path === ":memory:") {
    throw new SwitchOptionError("path", "must be a file: an in-memory database cannot be shared or survive a restart");
  }
  const base = resolveMemorySwitchOptions(options);
  const synchronous = options.synchronous ?? "full";
  if (synchronous !== "full" && synchronous !== "normal") {
    throw new SwitchOptionError("synchronous", `must be "full" or "normal", got ${String(synchronous)}`);
  }
  const leaseTimeoutMs = checkIntegerOption("leaseTimeoutMs", options.leaseTimeoutMs ?? 5000, 10, 60 * MINUTE_MS);
  const heartbeatIntervalMs = checkIntegerOption(
    "heartbeatIntervalMs",
    options.heartbeatIntervalMs ?? Math.min(1000, Math.floor(leaseTimeoutMs / 3)),
    1,
    leaseTimeoutMs - 1,
  );
  return {
    path: options.path,
    capacity: checkIntegerOption("capacity", base.capacity, 1, MAX_CAPACITY),
    clock: options.clock ?? createSystemClock(),
    random: base.random,
    tcpIdleTimeoutMs: Number(base.tcpIdleTimeoutNs / 1_000_000n),
    udpIdleTimeoutMs: Number(base.udpIdleTimeoutNs / 1_000_000n),
    traffic: base.traffic,
    tickIntervalMs: base.tickIntervalMs,
    firstId: base.firstId,
    synchronous,
    busyTimeoutMs: checkIntegerOption("busyTimeoutMs", options.busyTimeoutMs ?? 5000, 0, 10 * MINUTE_MS),
    leaseTimeoutMs,
    heartbeatIntervalMs,
    maxBatch: checkIntegerOption("maxBatch", options.maxBatch ?? 1024, 1, 1_000_000),
    pageSize: checkIntegerOption("pageSize", options.pageSize ?? 256, 1, 1_000_000),
    logger: options.logger ?? createSilentLogger(),
  };
}

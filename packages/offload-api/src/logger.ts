import { createSystemClock, type Clock } from "./time";

/** Log levels the servers use, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * The structured logger the servers write to: one call per event, an object
 * of fields first and a short message second. A pino logger fits as it is.
 */
export interface Logger {
  /** Per-request lines; servers check `isLevelEnabled("debug")` once and skip building them when off. */
  debug(fields: object, message?: string): void;
  /** Lifecycle events (listening, shutting down). */
  info(fields: object, message?: string): void;
  /** Something recovered from (a forced shutdown after the grace period). */
  warn(fields: object, message?: string): void;
  /** Failures, with the cause in `fields.err`. */
  error(fields: object, message?: string): void;
  /** Whether a level is written; absent means every level is. */
  isLevelEnabled?(level: LogLevel): boolean;
}

function discard(): void {}

/** A logger that writes nothing and reports every level disabled: the default of every server. */
export function createSilentLogger(): Logger {
  return { debug: discard, info: discard, warn: discard, error: discard, isLevelEnabled: () => false };
}

/** Whether `logger` writes `level`: `isLevelEnabled` when the logger has one, otherwise true. */
export function isLevelEnabled(logger: Logger, level: LogLevel): boolean {
  return logger.isLevelEnabled === undefined ? true : logger.isLevelEnabled(level);
}

/** Options of `createLogThrottle`. */
export interface LogThrottleOptions {
  /** Where the lines go. */
  readonly logger: Logger;
  /** Level of every line; default "info". */
  readonly level?: Exclude<LogLevel, "debug">;
  /** Message of the first line and of the summaries, e.g. "table full: adds refused". */
  readonly message: string;
  /** Message of the line `end()` writes, e.g. "table has room again". */
  readonly endMessage?: string;
  /** Least time between two lines while the condition lasts; default 10,000 ms. */
  readonly intervalMs?: number;
  /** Time source; default the system clock. */
  readonly clock?: Clock;
}

/**
 * Logs a repeated event so that a flood of it does not flood the log: the
 * first occurrence at once (with its fields), then at most one summary per
 * interval (`count` since the last line, over `seconds`, with the latest
 * occurrence's fields), and one closing line when the caller says the
 * condition is over. No timers: lines are written from `hit` and `end`.
 */
export interface LogThrottle {
  /** One occurrence. */
  hit(fields?: object): void;
  /** The condition is over (say, an add was accepted again): a closing line if there were occurrences. Cheap when there were none. */
  end(): void;
}

/** Makes a `LogThrottle` (see there). */
export function createLogThrottle(options: LogThrottleOptions): LogThrottle {
  const { logger, message } = options;
  const level = options.level ?? "info";
  const intervalNs = BigInt(Math.round((options.intervalMs ?? 10_000) * 1e6));
  const clock = options.clock ?? createSystemClock();
  let active = false;
  let startedNs = 0n;
  let lastLineNs = 0n;
  let total = 0;
  let unlogged = 0;
  const seconds = (ns: bigint): number => Math.round(Number(ns) / 1e6) / 1e3;
  return {
    hit(fields = {}) {
      const now = clock.now();
      total += 1;
      if (!active) {
        active = true;
        startedNs = now;
        lastLineNs = now;
        unlogged = 0;
        logger[level]({ ...fields }, message);
        return;
      }
      unlogged += 1;
      if (now - lastLineNs >= intervalNs) {
        logger[level]({ ...fields, count: unlogged, seconds: seconds(now - lastLineNs) }, message);
        lastLineNs = now;
        unlogged = 0;
      }
    },
    end() {
      if (!active) return;
      const now = clock.now();
      logger[level]({ count: total, seconds: seconds(now - startedNs) }, options.endMessage ?? `${message}: over`);
      active = false;
      total = 0;
      unlogged = 0;
    },
  };
}

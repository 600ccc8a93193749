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

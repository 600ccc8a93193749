/** The logger the client reports retries to: the servers' `Logger` and pino fit as they are. */
export interface ClientLogger {
  /** Logs a debug-level event with structured fields. */
  debug(fields: object, message?: string): void;
}

/** Describes one retry, for `onRetry` and the logger. */
export interface RetryEvent {
  /** The RPC being retried, e.g. `getSession`. */
  readonly method: string;
  /** The attempt that failed (1 for the first). */
  readonly attempt: number;
  /** The wait before the next attempt, in milliseconds. */
  readonly delayMs: number;
  /** The UNAVAILABLE error's details. */
  readonly details: string;
}

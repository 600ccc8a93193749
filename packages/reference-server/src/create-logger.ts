import pino from "pino";
import type { Logger } from "@sessionoffload/offload-api";
import type { LogLevelName } from "./command-line";

/** Options of `createLogger`. */
export interface CreateLoggerOptions {
  /** Lowest level written. */
  readonly level: LogLevelName;
  /** File descriptor to write to; default 2 (stderr). */
  readonly fd?: number;
}

/** A pino logger writing one JSON line per event, synchronously, to stderr. */
export function createLogger(options: CreateLoggerOptions): Logger & { flush(): void } {
  return pino(
    { level: options.level, base: { pid: process.pid }, name: "offload-server" },
    pino.destination({ dest: options.fd ?? 2, sync: true }),
  );
}

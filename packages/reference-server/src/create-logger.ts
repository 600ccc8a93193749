import pino from "pino";
import pretty from "pino-pretty";
import { isatty } from "node:tty";
import type { Logger } from "@sessionoffload/offload-api";
import type { LogFormat, LogLevelName } from "./command-line";

/** Options of `createLogger`. */
export interface CreateLoggerOptions {
  /** Lowest level written. */
  readonly level: LogLevelName;
  /** "json" (default): one JSON line per event; "pretty": pino-pretty's text, coloured on a terminal. */
  readonly format?: LogFormat;
  /** File descriptor to write to; default 2 (stderr). */
  readonly fd?: number;
}

/** A pino logger writing one event per line, synchronously, to stderr: JSON, or text for a person. */
export function createLogger(options: CreateLoggerOptions): Logger & { flush(): void } {
  const fd = options.fd ?? 2;
  const destination =
    options.format === "pretty"
      ? pretty({
          destination: fd,
          sync: true,
          colorize: isatty(fd),
          translateTime: "SYS:HH:MM:ss.l",
          ignore: "hostname",
        })
      : pino.destination({ dest: fd, sync: true });
  return pino({ level: options.level, base: { pid: process.pid }, name: "offload-server" }, destination);
}

/** A Logger for tests that keeps its lines. */
import type { LogLevel, Logger } from "@sessionoffload/offload-api";

/** A logged line. */
export interface LogLine {
  readonly level: LogLevel;
  readonly fields: Record<string, unknown>;
  readonly message: string | undefined;
}

/** A logger that keeps its lines; `debug` says whether debug is enabled (a debug line built anyway throws). */
export function recordingLogger(debug = false): Logger & { readonly lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLevel) =>
    (fields: object, message?: string): void => {
      if (level === "debug" && !debug) throw new Error("debug line built while debug is disabled");
      lines.push({ level, fields: fields as Record<string, unknown>, message });
    };
  return {
    lines,
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    isLevelEnabled: (level) => level !== "debug" || debug,
  };
}

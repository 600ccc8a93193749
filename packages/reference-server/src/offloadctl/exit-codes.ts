import { status } from "@grpc/grpc-js";
import { OffloadError, ValidationError } from "@sessionoffload/offload-api";

/** offloadctl's exit codes. */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** The server answered no: not found, already exists, table full, not serving, or an error status. */
  refused: 1,
  /** A mistake on the command line (or in what it names, e.g. an unreadable --ca). */
  usage: 2,
  /** The server could not be reached: refused connection, time-out, or a TLS handshake that failed. */
  unreachable: 3,
  /** Stopped by SIGINT/SIGTERM while a call was in flight (128 + SIGINT's number, as shells report it). */
  interrupted: 130,
} as const;

/** A mistake on the command line: one line, exit code 2. */
export class CtlUsageError extends Error {
  override readonly name = "CtlUsageError";
}

// The flag that gave each field of the typed client's input.
const FLAG_OF_FIELD: Readonly<Record<string, string>> = {
  sourceIp: "--source",
  sourcePort: "--source",
  destinationIp: "--destination",
  destinationPort: "--destination",
  protocol: "--protocol",
  action: "--action",
  nextHop: "--next-hop",
  inLif: "--in-lif",
  outLif: "--out-lif",
  id: "ID",
  pageSize: "--limit",
  "credentials.caFile": "--ca",
  "credentials.certFile": "--cert",
  "credentials.keyFile": "--key",
  "credentials.cert": "--cert",
  "credentials.key": "--key",
};

/** The exit code and the one line to print for an error a command failed with; undefined for a bug (printed in full). */
export function describeFailure(err: unknown): { code: number; message: string } | undefined {
  if (err instanceof CtlUsageError) return { code: EXIT.usage, message: err.message };
  if (err instanceof ValidationError) {
    const flag = FLAG_OF_FIELD[err.field] ?? err.field;
    return { code: EXIT.usage, message: `${flag}: ${err.reason}` };
  }
  if (err instanceof OffloadError) {
    const unreachable = err.code === status.UNAVAILABLE || err.code === status.DEADLINE_EXCEEDED;
    // grpc-js's "No connection established. Last error: Error: connect ECONNREFUSED ... Resolution note: "
    const lost = /^No connection established\. Last error: (?:Error: )?(.*?)\.?\s*Resolution note:/s.exec(err.details);
    if (lost !== null) {
      const tries = err.attempts > 1 ? `, after ${err.attempts} attempts` : "";
      return {
        code: EXIT.unreachable,
        message: `${err.method ?? "call"}: cannot reach the server (${lost[1]}${tries})`,
      };
    }
    return { code: unreachable ? EXIT.unreachable : EXIT.refused, message: err.message };
  }
  return undefined;
}

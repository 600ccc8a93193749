import type { IncomingHttpHeaders } from "node:http2";
import { status } from "@grpc/grpc-js";
import { parseGrpcTimeout } from "./grpc-timeout";
import type { GrpcStatus } from "./grpc-status";

/** A call's deadline: a Date.now()-based time in ms (Infinity when none), and how to stop its timer. */
export interface CallDeadline {
  /** What `getDeadline()` answers: ms since the epoch, or Infinity. */
  readonly at: number;
  /** Clears the timer; idempotent. */
  clear(): void;
}

/** Status of a call whose deadline passed. */
export const DEADLINE_EXCEEDED: GrpcStatus = Object.freeze({
  code: status.DEADLINE_EXCEEDED,
  details: "Deadline exceeded",
});

const NO_DEADLINE: CallDeadline = Object.freeze({ at: Infinity, clear: () => undefined });

/**
 * Starts the deadline of a call from its `grpc-timeout` header: `onExpired`
 * runs when it passes. A malformed header returns the INTERNAL status to answer
 * (grpc-js's wording) and starts nothing.
 */
export function startDeadline(headers: IncomingHttpHeaders, onExpired: () => void): CallDeadline | GrpcStatus {
  const header = headers["grpc-timeout"];
  if (header === undefined) return NO_DEADLINE;
  const value = Array.isArray(header) ? (header[0] ?? "") : header;
  const ms = parseGrpcTimeout(value);
  if (ms === undefined) return { code: status.INTERNAL, details: `Invalid grpc-timeout value "${value}"` };
  let timer: NodeJS.Timeout | undefined = setTimeout(onExpired, ms);
  return {
    at: Date.now() + ms,
    clear() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}

/** Whether `startDeadline` refused the header. */
export function isDeadlineError(value: CallDeadline | GrpcStatus): value is GrpcStatus {
  return "code" in value;
}

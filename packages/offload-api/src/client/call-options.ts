import { status } from "@grpc/grpc-js";
import { ValidationError } from "../validation";
import { OffloadError } from "./offload-error";

/** Per-call options: a deadline (absolute or relative) and an AbortSignal. */
export interface CallOptions {
  /** When the call (all attempts and backoff waits included) must be over. Wins over `timeoutMs`. */
  readonly deadline?: Date;
  /** The call's time budget in milliseconds from now; default: the client's default for this kind of call. */
  readonly timeoutMs?: number;
  /** Cancels the call; it then rejects with `OffloadError` code CANCELLED, `cause` = the signal's reason. */
  readonly signal?: AbortSignal;
}

/** Options of the streaming calls. */
export interface StreamOptions extends CallOptions {
  /** At most this many sessions are streamed; 0 or absent = all. */
  readonly pageSize?: number;
}

/** Resolves `deadline`/`timeoutMs` against a default timeout to an absolute deadline (ms since the epoch), or undefined for none. */
export function resolveDeadline(
  options: CallOptions,
  defaultTimeoutMs: number | undefined,
  nowMs: number,
): number | undefined {
  if (options.deadline !== undefined) {
    const at = options.deadline.getTime();
    if (Number.isNaN(at)) throw new ValidationError("deadline", "is an invalid Date");
    return at;
  }
  const timeout = options.timeoutMs ?? defaultTimeoutMs;
  if (timeout === undefined) return undefined;
  if (!Number.isFinite(timeout) || timeout < 0) {
    throw new ValidationError("timeoutMs", `must be a finite number >= 0, got ${timeout}`);
  }
  return nowMs + timeout;
}

/** The error a call rejects with when the caller's AbortSignal fires. */
export function abortError(signal: AbortSignal, method: string, attempts = 1): OffloadError {
  return new OffloadError(status.CANCELLED, "cancelled by the caller's AbortSignal", {
    cause: signal.reason,
    method,
    attempts,
  });
}

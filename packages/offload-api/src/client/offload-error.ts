import { status } from "@grpc/grpc-js";

/** Options of an `OffloadError` beyond its code and details. */
export interface OffloadErrorOptions {
  /** The underlying error (a grpc-js ServiceError, an abort reason, ...). */
  readonly cause?: unknown;
  /** The RPC that failed, e.g. `addSession`. */
  readonly method?: string;
  /** How many times the call was attempted (1 when it was not retried). */
  readonly attempts?: number;
}

/** The name of a gRPC status code, e.g. `DEADLINE_EXCEEDED` for 4. */
export function statusName(code: number): string {
  return status[code] ?? `STATUS_${code}`;
}

/**
 * The one error the typed client throws for a failed call: `code` is the gRPC
 * status (`INVALID_ARGUMENT` from the server, `DEADLINE_EXCEEDED`, `UNAVAILABLE`
 * after the retries, `CANCELLED` when the caller's AbortSignal fired, ...),
 * `details` the server's or grpc-js's message. Outcomes the wire carries as
 * data (already exists, table full, not found) are results, never this error.
 * Input that is malformed before anything is sent throws `ValidationError`.
 */
export class OffloadError extends Error {
  override readonly name = "OffloadError";
  /** The gRPC status code. */
  readonly code: status;
  /** The status message. */
  readonly details: string;
  /** The RPC that failed, when known. */
  readonly method: string | undefined;
  /** How many attempts were made (1 when not retried). */
  readonly attempts: number;

  constructor(code: status, details: string, options: OffloadErrorOptions = {}) {
    const where = options.method === undefined ? "" : `${options.method}: `;
    const tries = options.attempts !== undefined && options.attempts > 1 ? ` (after ${options.attempts} attempts)` : "";
    super(`${where}${statusName(code)}: ${details}${tries}`, { cause: options.cause });
    this.code = code;
    this.details = details;
    this.method = options.method;
    this.attempts = options.attempts ?? 1;
  }

  /** The name of `code`, e.g. `UNAVAILABLE`. */
  get codeName(): string {
    return statusName(this.code);
  }
}

/** True when `err` is a grpc-js ServiceError-like value (has a numeric `code` and string `details`). */
export function isServiceError(err: unknown): err is Error & { code: number; details: string } {
  return (
    err instanceof Error &&
    typeof (err as { code?: unknown }).code === "number" &&
    typeof (err as { details?: unknown }).details === "string"
  );
}

/** Wraps whatever a grpc-js call failed with in an `OffloadError` (returned as is if it already is one). */
export function toOffloadError(err: unknown, method: string, attempts = 1): OffloadError {
  if (err instanceof OffloadError) return err;
  if (isServiceError(err)) return new OffloadError(err.code, err.details, { cause: err, method, attempts });
  const message = err instanceof Error ? err.message : String(err);
  return new OffloadError(status.INTERNAL, message, { cause: err, method, attempts });
}

import { status } from "@grpc/grpc-js";

/** The gRPC status a server answers for a backend failure: a code and a short message, never the cause. */
export interface BackendFailureStatus {
  readonly code: status.UNAVAILABLE | status.INTERNAL;
  readonly details: string;
}

// Error codes that mean "the switch cannot be reached or is busy now": a retry may succeed.
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTCONN",
  "EPIPE",
  "ETIMEDOUT",
  "EAGAIN",
  "EBUSY",
]);

/** Message of UNAVAILABLE answers. */
export const BACKEND_UNAVAILABLE_MESSAGE = "switch backend unavailable";
/** Message of INTERNAL answers. */
export const BACKEND_INTERNAL_MESSAGE = "switch backend failure";

/**
 * Maps an error thrown or rejected by a SwitchBackend to a gRPC status.
 * UNAVAILABLE when the error says that a retry may succeed: `retryable: true`
 * (a `SwitchUnavailableError`), or a string `code` among the usual transient
 * system errors (ECONNREFUSED, ETIMEDOUT, EBUSY, ...); INTERNAL otherwise. The details
 * are a fixed short message: the cause is for the server's log only.
 */
export function backendErrorToStatus(err: unknown): BackendFailureStatus {
  if (typeof err === "object" && err !== null) {
    const { code, retryable } = err as { code?: unknown; retryable?: unknown };
    if (retryable === true || (typeof code === "string" && TRANSIENT_CODES.has(code))) {
      return { code: status.UNAVAILABLE, details: BACKEND_UNAVAILABLE_MESSAGE };
    }
  }
  return { code: status.INTERNAL, details: BACKEND_INTERNAL_MESSAGE };
}

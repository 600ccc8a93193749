import { Metadata, status, type ServerErrorResponse, type StatusObject } from "@grpc/grpc-js";

/** A call's final status as the native transport sends it: code, details, and optional trailing metadata. */
export interface GrpcStatus {
  readonly code: status;
  readonly details: string;
  readonly metadata?: Metadata | null;
}

/** The status of a successful call. */
/** The message of a thrown value, for a status's details. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export const OK_STATUS: GrpcStatus = Object.freeze({ code: status.OK, details: "OK" });

/**
 * The status for an error a handler passed to its callback or emitted, the
 * way grpc-js reads it: a numeric integer `code` with string `details`, else
 * UNKNOWN with the error's `message`; `overrideTrailers` wins over the
 * error's own `metadata`.
 */
export function errorToStatus(
  error: ServerErrorResponse | Partial<StatusObject>,
  overrideTrailers?: Metadata | null,
): GrpcStatus {
  const { code, details } = error as { code?: unknown; details?: unknown };
  const message = "message" in error && typeof error.message === "string" ? error.message : "Unknown Error";
  const metadata = overrideTrailers ?? (error.metadata instanceof Metadata ? error.metadata : null);
  if (typeof code === "number" && Number.isInteger(code)) {
    return { code: code as status, details: typeof details === "string" ? details : message, metadata };
  }
  return { code: status.UNKNOWN, details: message, metadata };
}

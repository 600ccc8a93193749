/**
 * gRPC status codes by number, named as grpc-go's `codes.Code.String()` names
 * them, which is what go-grpc-prometheus writes in `grpc_code` (and so what
 * existing dashboards query): "OK", "Canceled" (one l), "InvalidArgument", ...
 */
export const GRPC_CODE_NAMES = [
  "OK",
  "Canceled",
  "Unknown",
  "InvalidArgument",
  "DeadlineExceeded",
  "NotFound",
  "AlreadyExists",
  "PermissionDenied",
  "ResourceExhausted",
  "FailedPrecondition",
  "Aborted",
  "OutOfRange",
  "Unimplemented",
  "Internal",
  "Unavailable",
  "DataLoss",
  "Unauthenticated",
] as const;

/** The `grpc_code` label of a status code; anything but an integer in 0..16 counts as "Unknown". */
export function grpcCodeName(code: number): (typeof GRPC_CODE_NAMES)[number] {
  return (code >>> 0 === code && GRPC_CODE_NAMES[code]) || "Unknown";
}

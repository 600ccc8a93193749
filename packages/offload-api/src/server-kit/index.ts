export { createSilentLogger, isLevelEnabled } from "./logger";
export type { Logger, LogLevel } from "./logger";
export { isThenable } from "./maybe-promise";
export { backendErrorToStatus, BACKEND_UNAVAILABLE_MESSAGE, BACKEND_INTERNAL_MESSAGE } from "./backend-error";
export type { BackendFailureStatus } from "./backend-error";
export { createOffloadServer, DEFAULT_SHUTDOWN_TIMEOUT_MS } from "./offload-server";
export type { OffloadServer, OffloadServerOptions, OffloadTransport, ServerAddOn } from "./offload-server";
export {
  createReflectionPackageDefinition,
  SESSION_TABLE_SERVICE_NAME,
  SESSION_STATISTICS_SERVICE_NAME,
} from "./reflection-descriptor";
export type { ReflectionPackageDefinition } from "./reflection-descriptor";
export { DEFAULT_FAST_STREAM_CHUNK_BYTES } from "./offload-server";
export type { FastPathStatus } from "./offload-server";
export { createFastRoute, guardGrpcServer } from "./fast-path";
export type { FastRoute, FastMessageEncoder, FastWritableCall } from "./fast-path";
export { createStandardAddOns } from "./hosted-service";
export type { HostedServiceOptions, StandardAddOns } from "./hosted-service";

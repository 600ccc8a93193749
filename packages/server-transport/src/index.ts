export { backendErrorToStatus, BACKEND_UNAVAILABLE_MESSAGE, BACKEND_INTERNAL_MESSAGE } from "./backend-error";
export type { BackendFailureStatus } from "./backend-error";
export { createOffloadServer, DEFAULT_SHUTDOWN_TIMEOUT_MS } from "./offload-server";
export type {
  NativeCallCounts,
  OffloadServer,
  OffloadServerOptions,
  OffloadTransport,
  ServerAddOn,
} from "./offload-server";
export { createReflectionPackageDefinition } from "./reflection-descriptor";
export type { ReflectionPackageDefinition } from "./reflection-descriptor";
export { DEFAULT_STREAM_CHUNK_BYTES } from "./offload-server";
export { batchReaderOf, createNativeRoute } from "./grpc";
export type {
  NativeRoute,
  NativeRouteOptions,
  MessageEncoder,
  NativeCallBase,
  NativeCallInfo,
  NativeWritableCall,
  NativeReadableCall,
  RequestBatchReader,
} from "./grpc";
export { createStandardAddOns } from "./hosted-service";
export type { HostedServiceOptions, HostedServices, StandardAddOns } from "./hosted-service";
export { createStreamGate } from "./stream-gate";
export type { StreamGate, StreamStop } from "./stream-gate";
export { DEFAULT_TRANSPORT_LIMITS, resolveTransportLimits } from "./limits";
export type { TransportLimits, TransportLimitName } from "./limits";
export type { TransportStats, TransportStatsSource } from "./transport-stats";
export { createInsecureCredentials, createTlsCredentials } from "./credentials";
export type { InsecureCredentials, OffloadCredentials, TlsCredentials, TlsCredentialsOptions } from "./credentials";
export type { CallObserver, CallTracker, ObservedCall, RpcType } from "./call-observer";

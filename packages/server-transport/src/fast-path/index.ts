export { createFastRoute } from "./fast-route";
export type { FastRoute, FastUnaryRoute, FastServerStreamRoute, FastMessageEncoder } from "./fast-route";
export { guardGrpcServer, hookGrpcServer } from "./http2-server-hooks";
export type { GrpcServerHooks, GrpcServerHooksOptions } from "./http2-server-hooks";
export type { FastPathCounters } from "./stream-dispatcher";
export type { FastCallOptions } from "./fast-call-options";
export type { FastWritableCall } from "./writable-call";
export { encodeGrpcMessage } from "./grpc-message-encoding";
export { parseGrpcTimeout } from "./grpc-timeout";

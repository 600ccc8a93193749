export { createNativeRoute } from "./route";
export type {
  NativeRoute,
  NativeUnaryRoute,
  NativeServerStreamRoute,
  NativeClientStreamRoute,
  NativeRouteHandler,
  NativeRouteOptions,
  MessageEncoder,
} from "./route";
export { batchReaderOf } from "./client-stream-call";
export type { NativeReadableCall, RequestBatchReader } from "./client-stream-call";
export { createStreamDispatcher } from "./stream-dispatcher";
export type { NativeCallCounters, StreamListener } from "./stream-dispatcher";
export type { CallOptions } from "./call-options";
export type { NativeWritableCall } from "./writable-call";
export type { NativeCallBase, NativeCallInfo } from "./call-context";
export { encodeGrpcMessage } from "./grpc-message-encoding";
export { parseGrpcTimeout } from "./grpc-timeout";

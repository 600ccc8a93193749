export { createNativeServer } from "./native-server";
export type { NativeServer, NativeServerOptions } from "./native-server";
export { NativeStream } from "./native-stream";
export type { NativeStreamListener } from "./native-connection";
export { createUpstreamProxy } from "./upstream-proxy";
export type { UpstreamProxy } from "./upstream-proxy";
export { createUnaryRouter, NativeUnaryCall } from "./native-unary-call";

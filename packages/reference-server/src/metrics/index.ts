/** The reference server's Prometheus metrics, for embedding them in a server of one's own: `@sessionoffload/reference-server/metrics`. */
export { createServerMetrics, SERVER_METRIC_NAMES } from "./server-metrics";
export type { ServerMetrics, ServerMetricsOptions } from "./server-metrics";
export {
  createRpcMetrics,
  describeService,
  rpcTypeOf,
  RPC_METRIC_NAMES,
  DEFAULT_HANDLING_BUCKETS,
  DEFAULT_MAX_METHODS,
} from "./rpc-metrics";
export type { RpcMetrics, RpcMetricsOptions, RpcMethod } from "./rpc-metrics";
export { createTableMetrics, TABLE_METRIC_NAMES } from "./table-metrics";
export type { TableCounts, TableMetricsOptions, RejectReason, ClosedCode, SwitchOperation } from "./table-metrics";
export { createObservedBackend } from "./observed-backend";
export { registerTransportMetrics, TRANSPORT_METRIC_NAMES } from "./transport-metrics";
export type { LabelledTransportStats } from "./transport-metrics";
export { createMetricsServer } from "./metrics-server";
export type { MetricsServer, MetricsServerOptions } from "./metrics-server";
export { GRPC_CODE_NAMES, grpcCodeName } from "./grpc-code-names";
export type { CallObserver, CallTracker, RpcType } from "@sessionoffload/server-transport";
export type { TransportStats, TransportStatsSource } from "@sessionoffload/server-transport";

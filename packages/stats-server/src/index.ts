export { createSessionStatisticsHandlers, DEFAULT_CLOSED_BATCH_SIZE } from "./statistics-handlers";
export type {
  SessionStatisticsHandlersOptions,
  StatisticsMethod,
  StatisticsStreamHooks,
  StreamOutcome,
} from "./statistics-handlers";
export { createStatsServer } from "./stats-server";
export { deliverClosedSessions } from "./closed-delivery";
export type { ClosedDeliveryOptions } from "./closed-delivery";
export { createStreamGate } from "./stream-gate";
export type { StreamGate, StreamStop } from "./stream-gate";
export type { StatsServerOptions } from "./stats-server";
export type { OffloadServer } from "@sessionoffload/server-transport";
export type { Logger } from "@sessionoffload/offload-api";

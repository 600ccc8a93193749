export { createSessionStatisticsHandlers } from "./statistics-handlers";
export { DEFAULT_CLOSED_BATCH_SIZE } from "@sessionoffload/switch-backend/kit";
export type {
  SessionStatisticsHandlersOptions,
  StatisticsMethod,
  StatisticsStreamHooks,
  StreamOutcome,
} from "./statistics-handlers";
export { createStatsServer } from "./stats-server";
export type { StatsServerOptions } from "./stats-server";
export type { OffloadServer } from "@sessionoffload/server-transport";
/** Server credentials (see `createTlsCredentials` in @sessionoffload/server-transport). */
export { createInsecureCredentials, createTlsCredentials } from "@sessionoffload/server-transport";
export type { OffloadCredentials, TlsCredentialsOptions } from "@sessionoffload/server-transport";
export type { Logger } from "@sessionoffload/offload-api";

export { createSessionTableHandlers } from "./session-table-handlers";
export type { SessionTableHandlersOptions } from "./session-table-handlers";
export { createSessionServer } from "./session-server";
export type { SessionServerOptions } from "./session-server";
export type { OffloadServer } from "@sessionoffload/server-transport";
export type { Logger } from "@sessionoffload/offload-api";

export { createSessionTableHandlers } from "./session-table-handlers";
export type { SessionTableHandlersOptions } from "./session-table-handlers";
export { createSessionServer } from "./session-server";
export type { SessionServerOptions } from "./session-server";
export type { OffloadServer } from "@sessionoffload/server-transport";
/** Server credentials (see `createTlsCredentials` in @sessionoffload/server-transport). */
export { createInsecureCredentials, createTlsCredentials } from "@sessionoffload/server-transport";
export type { OffloadCredentials, TlsCredentialsOptions } from "@sessionoffload/server-transport";
export type { Logger } from "@sessionoffload/offload-api";
export {
  createOpenOffloadHandlers,
  DEFAULT_OPENOFFLOAD_PAGE_SIZE,
  OPENOFFLOAD_START_FROM_BEGINNING,
} from "./openoffload-handlers";
export type { OpenOffloadHandlersOptions } from "./openoffload-handlers";

/**
 * What servers need to describe the API to gRPC reflection: the serialized
 * descriptors of the schema and the fully qualified service names. A subpath
 * of its own (`@sessionoffload/offload-api/descriptors`), so that a client
 * never loads them.
 */
export { SESSIONS_V1_FILE_DESCRIPTORS } from "./sessions-v1";
export { OPENOFFLOAD_V1_FILE_DESCRIPTORS } from "./openoffload-v1";

/** Fully qualified name of the sessions.v1 SessionTable service. */
export const SESSION_TABLE_SERVICE_NAME = "sessions.v1.SessionTable";
/** Fully qualified name of the sessions.v1 SessionStatisticsTable service. */
export const SESSION_STATISTICS_SERVICE_NAME = "sessions.v1.SessionStatisticsTable";
/** Fully qualified name of the openoffload.v1 SessionTable service (the second generation). */
export const OPENOFFLOAD_SESSION_TABLE_SERVICE_NAME = "openoffload.v1.SessionTable";

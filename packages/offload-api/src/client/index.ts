export {
  createOffloadClient,
  DEFAULT_SESSIONS_ADDRESS,
  DEFAULT_STATS_ADDRESS,
  DEFAULT_TIMEOUT_MS,
} from "./offload-client";
export type { OffloadClient, OffloadClientOptions } from "./offload-client";
export type { CallOptions, StreamOptions } from "./call-options";
export type { ClientCredentialsOptions, InsecureCredentials, TlsCredentials } from "./client-credentials";
export { createChannelCredentials } from "./client-credentials";
export type { ClientLogger, RetryEvent } from "./client-logger";
export { OffloadError, statusName } from "./offload-error";
export type { OffloadErrorOptions } from "./offload-error";
export type { AddSessionResult, SessionLookup } from "./results";
export { DEFAULT_RETRY_POLICY, backoffDelayMs } from "./retry-policy";
export type { RetryPolicy } from "./retry-policy";
export { toSessionRequest } from "./session-input";
export type { SessionInput } from "./session-input";
export type { WaitForRoomOptions } from "./wait-for-room";
export {
  createOpenOffloadClient,
  DEFAULT_OPENOFFLOAD_BATCH_SIZE,
  DEFAULT_OPENOFFLOAD_PAGE,
} from "./openoffload-client";
export type { OpenOffloadClient, OpenOffloadClientOptions, PageOptions, ClosedOptions } from "./openoffload-client";
export type { OpenOffloadAddResult } from "./openoffload-results";
export { toOpenOffloadRequest } from "./openoffload-input";
export type { OpenOffloadSessionInput } from "./openoffload-input";

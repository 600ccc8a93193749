export { sessionsV1, openoffloadV1, Timestamp } from "./wire";
export type {
  IpVersion,
  Protocol,
  ActionKind,
  SessionState,
  CloseCode,
  SessionSpec,
  Session,
  EpochNanos,
} from "./types";
export { UINT64_MAX, MAX_IDLE_TIMEOUT_MS } from "./types";
export { AddressError, parseAddress, formatAddress, isAddressLiteral } from "./address";
export {
  IP_VERSION_TO_WIRE,
  IP_VERSION_FROM_WIRE,
  PROTOCOL_TO_WIRE,
  PROTOCOL_FROM_WIRE,
  ACTION_TO_WIRE,
  ACTION_FROM_WIRE,
  STATE_TO_WIRE,
  STATE_FROM_WIRE,
  CLOSE_CODE_TO_WIRE,
  CLOSE_CODE_FROM_WIRE,
} from "./enums";
export { nanosToTimestamp, timestampToNanos, nanosToDate, dateToNanos, createSystemClock } from "./time";
export type { Clock } from "./time";
export { ValidationError, validateSessionRequest, MAX_LIF_BYTES } from "./validation";
export { specToWire, sessionToWire, statusToWire, sessionFromWire } from "./convert";
export { createSilentLogger, isLevelEnabled, createLogThrottle } from "./logger";
export type { Logger, LogLevel, LogThrottle, LogThrottleOptions } from "./logger";
export {
  ipv4FromInAddr,
  ipv4ToInAddr,
  validateOpenOffloadRequest,
  openOffloadSessionToWire,
  openOffloadSessionFromWire,
  openOffloadSpecToWire,
} from "./openoffload";
export type { OpenOffloadSessionSpec } from "./openoffload";
export * from "./client";

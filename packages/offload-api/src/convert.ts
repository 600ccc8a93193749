import {
  ACTION_TO_WIRE,
  CLOSE_CODE_FROM_WIRE,
  CLOSE_CODE_TO_WIRE,
  IP_VERSION_TO_WIRE,
  PROTOCOL_TO_WIRE,
  STATE_FROM_WIRE,
  STATE_TO_WIRE,
} from "./enums";
import { nanosToTimestamp, timestampToNanos } from "./time";
import type { CloseCode, Session, SessionSpec, SessionState } from "./types";
import { sessionsV1 } from "./wire";

/** Builds the wire `sessionRequest` for a spec. */
export function specToWire(spec: SessionSpec): sessionsV1.sessionRequest {
  return {
    inLif: spec.inLif,
    outLif: spec.outLif,
    ipVersion: IP_VERSION_TO_WIRE[spec.ipVersion],
    sourceIp: Buffer.from(spec.sourceIp),
    sourcePort: spec.sourcePort,
    destinationIp: Buffer.from(spec.destinationIp),
    destinationPort: spec.destinationPort,
    protocolId: PROTOCOL_TO_WIRE[spec.protocol],
    action: { actionType: ACTION_TO_WIRE[spec.action], actionNextHop: spec.nextHop },
  };
}

/** Builds the wire `sessionResponse` for a session, with the given request status (default `_ACCEPTED`). */
export function sessionToWire(
  session: Session,
  requestStatus: sessionsV1.REQUEST_STATUS = sessionsV1.REQUEST_STATUS._ACCEPTED,
): sessionsV1.sessionResponse {
  return {
    sessionId: session.id,
    inPackets: session.inPackets,
    outPackets: session.outPackets,
    inBytes: session.inBytes,
    outBytes: session.outBytes,
    sessionState: STATE_TO_WIRE[session.state],
    sessionCloseCode: CLOSE_CODE_TO_WIRE[session.closeCode],
    requestStatus,
    startTime: nanosToTimestamp(session.startTime),
    endTime: session.endTime === undefined ? undefined : nanosToTimestamp(session.endTime),
  };
}

/** Builds a wire `sessionResponse` that carries only a request status and, optionally, a session id. */
export function statusToWire(requestStatus: sessionsV1.REQUEST_STATUS, sessionId = 0n): sessionsV1.sessionResponse {
  return sessionsV1.sessionResponse.fromPartial({ sessionId, requestStatus });
}

/**
 * Converts a wire `sessionResponse` to a `Session`. Unknown state or close-code
 * numbers (from a newer peer) throw a RangeError naming the field.
 */
export function sessionFromWire(msg: sessionsV1.sessionResponse): Session {
  const state: SessionState | undefined = STATE_FROM_WIRE.get(msg.sessionState);
  if (state === undefined) throw new RangeError(`sessionState: unknown SESSION_STATE ${msg.sessionState}`);
  const closeCode: CloseCode | undefined = CLOSE_CODE_FROM_WIRE.get(msg.sessionCloseCode);
  if (closeCode === undefined) {
    throw new RangeError(`sessionCloseCode: unknown SESSION_CLOSE_CODE ${msg.sessionCloseCode}`);
  }
  return {
    id: msg.sessionId,
    state,
    closeCode,
    inPackets: msg.inPackets,
    outPackets: msg.outPackets,
    inBytes: msg.inBytes,
    outBytes: msg.outBytes,
    startTime: msg.startTime === undefined ? 0n : timestampToNanos(msg.startTime),
    endTime: msg.endTime === undefined ? undefined : timestampToNanos(msg.endTime),
  };
}

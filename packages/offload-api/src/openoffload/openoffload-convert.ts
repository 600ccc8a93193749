import { parseAddress } from "../address";
import { nanosToTimestamp, timestampToNanos } from "../time";
import type { CloseCode, Session, SessionSpec, SessionState } from "../types";
import { openoffloadV1 } from "../wire";
import { ipv4ToInAddr } from "./in-addr";

const { ACTION_TYPE, IP_VERSION, PROTOCOL_ID, REQUEST_STATUS, SESSION_CLOSE_CODE, SESSION_STATE } = openoffloadV1;

const STATE_TO_WIRE: Readonly<Record<SessionState, openoffloadV1.SESSION_STATE>> = {
  established: SESSION_STATE._ESTABLISHED,
  closing1: SESSION_STATE._CLOSING_1,
  closing2: SESSION_STATE._CLOSING_2,
  closed: SESSION_STATE._CLOSED,
};
const CLOSE_CODE_TO_WIRE: Readonly<Record<CloseCode, openoffloadV1.SESSION_CLOSE_CODE>> = {
  notClosed: SESSION_CLOSE_CODE._NOT_CLOSED,
  finAck: SESSION_CLOSE_CODE._FINACK,
  rst: SESSION_CLOSE_CODE._RST,
  timeout: SESSION_CLOSE_CODE._TIMEOUT,
};
const STATE_FROM_WIRE = new Map(Object.entries(STATE_TO_WIRE).map(([k, v]) => [v as number, k as SessionState]));
const CLOSE_CODE_FROM_WIRE = new Map(Object.entries(CLOSE_CODE_TO_WIRE).map(([k, v]) => [v as number, k as CloseCode]));

/** Builds the openoffload.v1 `sessionResponse` of a session, with the given request status (default `_ACCEPTED`). */
export function openOffloadSessionToWire(
  session: Session,
  requestStatus: openoffloadV1.REQUEST_STATUS = REQUEST_STATUS._ACCEPTED,
): openoffloadV1.sessionResponse {
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

/**
 * Converts an openoffload.v1 `sessionResponse` to a `Session`. `_UNKNOWN_STATE`,
 * `_UNKNOWN_CLOSE_CODE` and numbers this library does not know throw a
 * RangeError naming the field.
 */
export function openOffloadSessionFromWire(msg: openoffloadV1.sessionResponse): Session {
  const state = STATE_FROM_WIRE.get(msg.sessionState);
  if (state === undefined) throw new RangeError(`sessionState: no session state for SESSION_STATE ${msg.sessionState}`);
  const closeCode = CLOSE_CODE_FROM_WIRE.get(msg.sessionCloseCode);
  if (closeCode === undefined) {
    throw new RangeError(`sessionCloseCode: no close code for SESSION_CLOSE_CODE ${msg.sessionCloseCode}`);
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

/**
 * Builds the openoffload.v1 `sessionRequest` of a session and its
 * client-assigned id: the inverse of `validateOpenOffloadRequest` for a spec
 * whose LIFs are int32 decimal text ("" is 0) and whose idle timeout is
 * whole seconds (rounded up). Throws a RangeError naming `inLif`/`outLif`
 * for a LIF that is not an int32.
 */
export function openOffloadSpecToWire(id: bigint, spec: SessionSpec): openoffloadV1.sessionRequest {
  const v4 = spec.ipVersion === "ipv4";
  const hop = spec.nextHop === "" ? undefined : parseAddress(spec.nextHop);
  return {
    sessionId: id,
    inLif: lifNumber("inLif", spec.inLif),
    outLif: lifNumber("outLif", spec.outLif),
    ipVersion: v4 ? IP_VERSION._IPV4 : IP_VERSION._IPV6,
    sourceIp: v4 ? ipv4ToInAddr(spec.sourceIp) : 0,
    sourceIpV6: v4 ? Buffer.alloc(0) : Buffer.from(spec.sourceIp),
    sourcePort: spec.sourcePort,
    destinationIp: v4 ? ipv4ToInAddr(spec.destinationIp) : 0,
    destinationIpV6: v4 ? Buffer.alloc(0) : Buffer.from(spec.destinationIp),
    destinationPort: spec.destinationPort,
    protocolId: spec.protocol === "tcp" ? PROTOCOL_ID._TCP : PROTOCOL_ID._UDP,
    action: {
      actionType:
        ACTION_TYPE[
          spec.action === "drop"
            ? "_DROP"
            : spec.action === "forward"
              ? "_FORWARD"
              : spec.action === "mirror"
                ? "_MIRROR"
                : "_SNOOP"
        ],
      actionNextHop: hop?.version === "ipv4" ? ipv4ToInAddr(hop.bytes) : 0,
      actionNextHopV6: hop?.version === "ipv6" ? Buffer.from(hop.bytes) : Buffer.alloc(0),
    },
    cacheTimeout: Math.ceil((spec.idleTimeoutMs ?? 0) / 1000),
  };
}

function lifNumber(field: string, text: string): number {
  if (text === "") return 0;
  const n = Number(text);
  if (!/^-?\d+$/.test(text) || n < -(2 ** 31) || n >= 2 ** 31) {
    throw new RangeError(`${field}: openoffload.v1 LIFs are int32 numbers, got "${text}"`);
  }
  return n;
}

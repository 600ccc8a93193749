import { sessionsV1 } from "./wire";
import type { ActionKind, CloseCode, IpVersion, Protocol, SessionState } from "./types";

const { ACTION_TYPE, IP_VERSION, PROTOCOL_ID, SESSION_CLOSE_CODE, SESSION_STATE } = sessionsV1;

/** Wire IP_VERSION numbers of each IP version. */
export const IP_VERSION_TO_WIRE: Readonly<Record<IpVersion, sessionsV1.IP_VERSION>> = {
  ipv4: IP_VERSION._IPV4,
  ipv6: IP_VERSION._IPV6,
};

/** Wire PROTOCOL_ID numbers of each offloadable protocol. */
export const PROTOCOL_TO_WIRE: Readonly<Record<Protocol, sessionsV1.PROTOCOL_ID>> = {
  tcp: PROTOCOL_ID._TCP,
  udp: PROTOCOL_ID._UDP,
};

/** Wire ACTION_TYPE numbers of each action. */
export const ACTION_TO_WIRE: Readonly<Record<ActionKind, sessionsV1.ACTION_TYPE>> = {
  drop: ACTION_TYPE._DROP,
  forward: ACTION_TYPE._FORWARD,
  mirror: ACTION_TYPE._MIRROR,
  snoop: ACTION_TYPE._SNOOP,
};

/** Wire SESSION_STATE numbers of each state. */
export const STATE_TO_WIRE: Readonly<Record<SessionState, sessionsV1.SESSION_STATE>> = {
  established: SESSION_STATE._ESTABLISHED,
  closing1: SESSION_STATE._CLOSING_1,
  closing2: SESSION_STATE._CLOSING_2,
  closed: SESSION_STATE._CLOSED,
};

/** Wire SESSION_CLOSE_CODE numbers of each close code. */
export const CLOSE_CODE_TO_WIRE: Readonly<Record<CloseCode, sessionsV1.SESSION_CLOSE_CODE>> = {
  notClosed: SESSION_CLOSE_CODE._NOT_CLOSED,
  finAck: SESSION_CLOSE_CODE._FINACK,
  rst: SESSION_CLOSE_CODE._RST,
  timeout: SESSION_CLOSE_CODE._TIMEOUT,
};

function invert<K extends string>(table: Readonly<Record<K, number>>): ReadonlyMap<number, K> {
  return new Map(Object.entries(table).map(([k, v]) => [v as number, k as K]));
}

/** Domain name of each wire IP_VERSION number. */
export const IP_VERSION_FROM_WIRE = invert(IP_VERSION_TO_WIRE);
/** Domain name of each offloadable wire PROTOCOL_ID number (TCP and UDP only). */
export const PROTOCOL_FROM_WIRE = invert(PROTOCOL_TO_WIRE);
/** Domain name of each wire ACTION_TYPE number. */
export const ACTION_FROM_WIRE = invert(ACTION_TO_WIRE);
/** Domain name of each wire SESSION_STATE number. */
export const STATE_FROM_WIRE = invert(STATE_TO_WIRE);
/** Domain name of each wire SESSION_CLOSE_CODE number. */
export const CLOSE_CODE_FROM_WIRE = invert(CLOSE_CODE_TO_WIRE);

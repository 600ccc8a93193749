import type { ActionKind, CloseCode, IpVersion, Protocol, SessionState } from "@sessionoffload/offload-api";

/** Bit of the packed kind set for UDP (clear for TCP). */
export const KIND_UDP = 1;
/** Bit of the packed kind set for IPv6 (clear for IPv4). */
export const KIND_IPV6 = 2;
/** The packed-kind bits that belong to the 7-tuple (protocol and IP version). */
export const KIND_TUPLE_MASK = 3;

/** Actions by packed index (bits 2-3 of the kind). */
export const ACTIONS: readonly ActionKind[] = ["drop", "forward", "mirror", "snoop"];
/** States by stored number. */
export const STATES: readonly SessionState[] = ["established", "closing1", "closing2", "closed"];
/** Close codes by stored number. */
export const CLOSE_CODES: readonly CloseCode[] = ["notClosed", "finAck", "rst", "timeout"];

/** Stored number of the closed state. */
export const STATE_CLOSED = 3;

/** Packs protocol, IP version and action into one byte. */
export function packKind(protocol: Protocol, ipVersion: IpVersion, action: ActionKind): number {
  const actionBits = action === "forward" ? 4 : action === "drop" ? 0 : action === "mirror" ? 8 : 12;
  return (protocol === "udp" ? KIND_UDP : 0) | (ipVersion === "ipv6" ? KIND_IPV6 : 0) | actionBits;
}

/** The stored number of a close code. */
export function closeCodeNumber(code: CloseCode): number {
  return CLOSE_CODES.indexOf(code);
}

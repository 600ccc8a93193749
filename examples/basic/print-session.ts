import { CLOSE_CODE_TO_WIRE, STATE_TO_WIRE, type EpochNanos, type Session } from "@sessionoffload/offload-api";

const NS_PER_S = 1_000_000_000n;

/** Lines of a protobuf-style Timestamp, as the original demo printed them ("seconds: N" then "nanos: N"). */
export function timestampLines(label: string, ns: EpochNanos | undefined): string[] {
  if (ns === undefined) return [label];
  return [`${label} seconds: ${ns / NS_PER_S}`, `nanos: ${ns % NS_PER_S}`, ""];
}

/**
 * The lines the original Python demo printed for a sessionResponse, with the
 * wire numbers of state, request status (always 0 = _ACCEPTED for a session
 * the server answered) and close code, and `stateLegend` before the state.
 */
export function sessionLines(session: Session, stateLegend: string): string[] {
  return [
    `SessionId: ${session.id}`,
    `Session State ${stateLegend} : ${STATE_TO_WIRE[session.state]}`,
    `Session RequestStatus: 0`,
    `Session ReasonCode: ${CLOSE_CODE_TO_WIRE[session.closeCode]}`,
    `Session InPackets ${session.inPackets}`,
    `Session OutPackets ${session.outPackets}`,
    ...timestampLines("Session startTime", session.startTime),
    ...timestampLines("Session endTime", session.endTime),
  ];
}

/** A section banner of the original demo, e.g. "-------------- Add Session --------------". */
export function banner(title: string): string {
  return `-------------- ${title} --------------`;
}

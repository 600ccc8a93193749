import type { EpochNanos, Session } from "@sessionoffload/offload-api";

/** The session a switch answers an accepted add with: established, counters at zero, started now. */
export function newSession(id: bigint, startTime: EpochNanos): Session {
  return {
    id,
    state: "established",
    closeCode: "notClosed",
    inPackets: 0n,
    outPackets: 0n,
    inBytes: 0n,
    outBytes: 0n,
    startTime,
    endTime: undefined,
  };
}

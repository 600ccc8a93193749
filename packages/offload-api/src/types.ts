/** IP version of a session's addresses. */
export type IpVersion = "ipv4" | "ipv6";

/** Transport protocols the switch can offload. */
export type Protocol = "tcp" | "udp";

/** What the switch does with a session's packets. */
export type ActionKind = "drop" | "forward" | "mirror" | "snoop";

/** Where a session is in its lifecycle. */
export type SessionState = "established" | "closing1" | "closing2" | "closed";

/** Why a session ended; `notClosed` while it has not. */
export type CloseCode = "notClosed" | "finAck" | "rst" | "timeout";

/**
 * A validated offload request: the 7-tuple (inLif, outLif, sourceIp,
 * sourcePort, destinationIp, destinationPort, protocol) and the action.
 * Addresses are raw bytes, 4 for IPv4 and 16 for IPv6.
 */
export interface SessionSpec {
  readonly inLif: string;
  readonly outLif: string;
  readonly ipVersion: IpVersion;
  readonly sourceIp: Uint8Array;
  readonly sourcePort: number;
  readonly destinationIp: Uint8Array;
  readonly destinationPort: number;
  readonly protocol: Protocol;
  readonly action: ActionKind;
  /** Next hop address literal (IPv4 or IPv6 text), or "" for none. */
  readonly nextHop: string;
  /**
   * The session's own idle timeout in milliseconds, an integer in
   * 0..MAX_IDLE_TIMEOUT_MS; absent or 0: the switch's default for the
   * protocol. (openoffload.v1 `cacheTimeout`, in seconds; sessions.v1 has none.)
   */
  readonly idleTimeoutMs?: number;
}

/** Largest per-session idle timeout: 2^32-1 seconds, the most `cacheTimeout` (uint32 seconds) can say. */
export const MAX_IDLE_TIMEOUT_MS = 4_294_967_295_000;

/** Nanoseconds since the Unix epoch. */
export type EpochNanos = bigint;

/**
 * A session as the switch sees it. Counters are unsigned 64-bit: `in*` count
 * source-to-destination traffic, `out*` the reverse direction.
 */
export interface Session {
  readonly id: bigint;
  readonly state: SessionState;
  readonly closeCode: CloseCode;
  readonly inPackets: bigint;
  readonly outPackets: bigint;
  readonly inBytes: bigint;
  readonly outBytes: bigint;
  readonly startTime: EpochNanos;
  /** When the session ended (or was deleted); undefined while it is live. */
  readonly endTime: EpochNanos | undefined;
}

/** The largest unsigned 64-bit value. */
export const UINT64_MAX = 0xffff_ffff_ffff_ffffn;

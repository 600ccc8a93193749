import type { CloseCode, Session } from "@sessionoffload/offload-api";
import type { SwitchBackend, TrafficDelta } from "../backend";

/**
 * A backend under test plus the controls the conformance suite needs to play
 * the data plane's part. A vendor implements one for their switch.
 */
export interface ConformanceHarness {
  /** The backend under test, new and empty. */
  readonly backend: SwitchBackend;
  /** Ends a live session as the data plane would (FIN, RST or idle timeout). */
  endSession(id: bigint, code: Exclude<CloseCode, "notClosed">): Promise<void>;
  /** Adds traffic to a live session's counters; omit it if the switch cannot, and counter tests are skipped. */
  addTraffic?(id: bigint, delta: TrafficDelta): Promise<void>;
  /**
   * Lets `ms` of idle time pass for every session and runs the switch's idle
   * sweep (a fake clock and a step, say); omit it if the switch cannot, and
   * the per-session idle timeout cases are skipped.
   */
  advanceIdleTime?(ms: number): Promise<void>;
  /** The switch's default idle timeouts per protocol, for the idleTimeoutMs-0 case (skipped when absent). */
  readonly defaultIdleTimeoutMs?: { readonly tcp: number; readonly udp: number };
  /** Closes the backend and removes whatever the harness made (files, namespaces). */
  dispose(): Promise<void>;
}

/** Options the suite asks a harness factory for. */
export interface HarnessOptions {
  /** Table capacity. */
  readonly capacity: number;
  /** First id the backend assigns; undefined for the backend's default. Used for ids past 2^53. */
  readonly firstId?: bigint;
}

/** Makes a fresh harness for one test. */
export type HarnessFactory = (options: HarnessOptions) => Promise<ConformanceHarness>;

/** Shape of a session the suite compares: everything but times. */
export type SessionCounters = Pick<Session, "inPackets" | "outPackets" | "inBytes" | "outBytes">;

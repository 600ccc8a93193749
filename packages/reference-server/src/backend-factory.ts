import { createMemorySwitch, type SwitchBackend } from "@sessionoffload/switch-backend";
import type { Clock } from "@sessionoffload/offload-api";

/** The switches the reference server can run over. */
export const BACKEND_KINDS = ["memory"] as const;

/** One of `BACKEND_KINDS`. */
export type BackendKind = (typeof BACKEND_KINDS)[number];

/** The backend part of the parsed command line; undefined fields take the switch's defaults. */
export interface BackendConfig {
  /** Which switch (`--backend`). */
  readonly kind: BackendKind;
  /** Table capacity (`--max-sessions`). */
  readonly maxSessions?: number;
  /** TCP idle timeout in milliseconds (`--tcp-idle-timeout`, given in seconds). */
  readonly tcpIdleTimeoutMs?: number;
  /** UDP idle timeout in milliseconds (`--udp-idle-timeout`, given in seconds). */
  readonly udpIdleTimeoutMs?: number;
  /** The simulated traffic model (`--traffic on|off`). */
  readonly traffic: boolean;
  /** Seed of the traffic model (`--seed`). */
  readonly seed?: number;
}

/** What a backend may be given besides its configuration. */
export interface BackendDeps {
  /** Time source; default the system clock. */
  readonly clock?: Clock;
}

/**
 * Makes the switch the command line asked for. The one place that knows the
 * backend kinds: new ones (sqlite with `--db`, nftables with `--netns`) are
 * added here. Throws the switch's option error for a bad value.
 */
export function createBackend(config: BackendConfig, deps: BackendDeps = {}): SwitchBackend {
  switch (config.kind) {
    case "memory":
      return createMemorySwitch({
        capacity: config.maxSessions,
        tcpIdleTimeoutMs: config.tcpIdleTimeoutMs,
        udpIdleTimeoutMs: config.udpIdleTimeoutMs,
        traffic: config.traffic,
        seed: config.seed,
        clock: deps.clock,
      });
  }
}

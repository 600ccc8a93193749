import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { createMemorySwitch, type SwitchBackend } from "@sessionoffload/switch-backend";
import { createKernelSwitch } from "@sessionoffload/switch-kernel";
import { createSqliteSwitch } from "@sessionoffload/switch-sqlite";
import type { Clock, Logger } from "@sessionoffload/offload-api";

/** The switches the reference server can run over. */
export const BACKEND_KINDS = ["memory", "sqlite", "nftables"] as const;

/** One of `BACKEND_KINDS`. */
export type BackendKind = (typeof BACKEND_KINDS)[number];

/** Default database file of the sqlite backend, relative to the working directory (or `$OFFLOAD_DB`). */
export const DEFAULT_DB_PATH = ".offload/switch.db";

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
  /** The simulated traffic model (`--traffic on|off`); the kernel switch (`nftables`) counts real packets instead. */
  readonly traffic: boolean;
  /** Seed of the traffic model (`--seed`). */
  readonly seed?: number;
  /** Database file of the sqlite switch (`--db`); default `DEFAULT_DB_PATH`. */
  readonly dbPath?: string;
  /** Durability of the sqlite switch (`--db-sync`); default "full". */
  readonly dbSync?: "full" | "normal";
  /** Network namespace the kernel switch (`nftables`) programs (`--netns`); default the current one. */
  readonly netns?: string;
}

/** What a backend may be given besides its configuration. */
export interface BackendDeps {
  /** Time source; default the system clock. */
  readonly clock?: Clock;
  /** Log of the switch (the sqlite switch reports leadership changes). */
  readonly logger?: Logger;
}

/** Default capacity of the kernel switch (`nftables`): conntrack's own default limit (nf_conntrack_max) is 262,144. */
const NFTABLES_DEFAULT_CAPACITY = 65536;
/** Default capacity of the memory and SQLite switches. */
const DEFAULT_CAPACITY = 1_000_000;

/** The table capacity a configuration gives: `--max-sessions`, or the switch's default. */
export function effectiveCapacity(config: BackendConfig): number {
  return config.maxSessions ?? (config.kind === "nftables" ? NFTABLES_DEFAULT_CAPACITY : DEFAULT_CAPACITY);
}

/**
 * Makes the switch the command line asked for: the one place that knows the
 * backend kinds. Rejects with the switch's own error for a bad setting or an
 * unusable store (`SwitchOptionError`, `SqliteSwitchOpenError`, `NftError`, `NetlinkError`),
 * each with a one-line message.
 */
export async function createBackend(config: BackendConfig, deps: BackendDeps = {}): Promise<SwitchBackend> {
  const common = {
    capacity: config.maxSessions,
    tcpIdleTimeoutMs: config.tcpIdleTimeoutMs,
    udpIdleTimeoutMs: config.udpIdleTimeoutMs,
    clock: deps.clock,
  };
  switch (config.kind) {
    case "memory":
      return createMemorySwitch({ ...common, traffic: config.traffic, seed: config.seed });
    case "sqlite": {
      const path = resolve(config.dbPath ?? DEFAULT_DB_PATH);
      // The default folder is ours to make; a folder the user named must exist.
      if (config.dbPath === undefined || config.dbPath === DEFAULT_DB_PATH)
        mkdirSync(dirname(path), { recursive: true });
      return createSqliteSwitch({
        ...common,
        path,
        synchronous: config.dbSync,
        traffic: config.traffic,
        seed: config.seed,
        logger: deps.logger,
      });
    }
    case "nftables":
      // The kernel switch: conntrack over netlink in process, a static nft ruleset (docs/KERNEL.md).
      return createKernelSwitch({
        ...common,
        capacity: effectiveCapacity(config),
        netns: config.netns,
        onBackgroundError: (err) => deps.logger?.error({ err }, "kernel switch: reading conntrack failed"),
      });
  }
}

import type Database from "better-sqlite3";
import type { Clock } from "@sessionoffload/offload-api";

const NS_PER_MS = 1_000_000n;

/** Dependencies of `createMembership`. */
export interface MembershipOptions {
  readonly db: Database.Database;
  readonly clock: Clock;
  /** This switch instance's token (unique per open). */
  readonly owner: string;
  /** How long an owner row (and the leadership) stays valid without a heartbeat, in ms. */
  readonly leaseTimeoutMs: number;
  /** Host name recorded with the owner row. */
  readonly host: string;
  /** This process's pid. */
  readonly pid: number;
  /** Whether a pid on this host is still running. */
  readonly isPidAlive: (pid: number) => boolean;
}

/** One switch instance's membership of the shared database: see `createMembership`. */
export interface Membership {
  /** Renews this owner's row and reaps dead owners (their leases and leadership are released). */
  heartbeat(): void;
  /** Inside a write transaction: takes or renews the leader lease; true if this owner leads now. */
  claimLeadership(): boolean;
  /** Removes this owner's row, leases and leadership (on close). */
  leave(): void;
}

interface OwnerRow {
  readonly owner: string;
  readonly pid: bigint;
  readonly host: string;
  readonly expires_at: bigint;
}

/**
 * Processes sharing a database each register an owner row that a heartbeat
 * keeps alive. A closed-session lease names its owner; when the owner's row
 * expires, or its pid is gone on this host (a SIGKILLed process is noticed at
 * once, not after the timeout), the owner is reaped: its leases are released
 * so that another process delivers those sessions, and its leadership of the
 * traffic model and idle timeouts passes to the next process that ticks.
 */
export function createMembership(options: MembershipOptions): Membership {
  const { db, clock, owner, host, pid, isPidAlive } = options;
  const timeoutNs = BigInt(Math.ceil(options.leaseTimeoutMs)) * NS_PER_MS;
  const upsert = db.prepare(
    `INSERT INTO owners (owner, pid, host, expires_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (owner) DO UPDATE SET expires_at = excluded.expires_at`,
  );
  const listOthers = db.prepare("SELECT owner, pid, host, expires_at FROM owners WHERE owner <> ?");
  const removeOwner = db.prepare("DELETE FROM owners WHERE owner = ?");
  const releaseLeases = db.prepare(
    "UPDATE sessions SET lease_owner = NULL, lease_id = NULL WHERE state = 'closed' AND lease_owner = ?",
  );
  const releaseOrphanLeases = db.prepare(
    `UPDATE sessions SET lease_owner = NULL, lease_id = NULL
     WHERE state = 'closed' AND lease_owner IS NOT NULL AND lease_owner NOT IN (SELECT owner FROM owners)`,
  );
  const dropLeader = db.prepare("UPDATE switch_state SET leader = NULL, leader_expires = NULL WHERE leader = ?");
  const readLeader = db.prepare("SELECT leader, leader_expires FROM switch_state WHERE singleton = 1");
  const writeLeader = db.prepare("UPDATE switch_state SET leader = ?, leader_expires = ? WHERE singleton = 1");

  const isDead = (row: OwnerRow, now: bigint): boolean =>
    row.expires_at < now || (row.host === host && !isPidAlive(Number(row.pid)));

  const heartbeat = db.transaction(() => {
    const now = clock.now();
    upsert.run(owner, pid, host, now + timeoutNs);
    let reaped = false;
    for (const row of listOthers.all(owner) as OwnerRow[]) {
      if (!isDead(row, now)) continue;
      removeOwner.run(row.owner);
      dropLeader.run(row.owner);
      reaped = true;
    }
    if (reaped) releaseOrphanLeases.run();
  });

  const leave = db.transaction(() => {
    releaseLeases.run(owner);
    dropLeader.run(owner);
    removeOwner.run(owner);
  });

  return {
    heartbeat: () => heartbeat.immediate(),
    claimLeadership() {
      const now = clock.now();
      const row = readLeader.get() as { leader: string | null; leader_expires: bigint | null };
      if (row.leader !== null && row.leader !== owner && (row.leader_expires ?? 0n) >= now) return false;
      writeLeader.run(owner, now + timeoutNs);
      return true;
    },
    leave: () => leave.immediate(),
  };
}

import type Database from "better-sqlite3";
import type { ClosedLease } from "@sessionoffload/switch-backend";
import { idToStored } from "./id-codec";
import { rowToSession, SESSION_COLUMNS, type SessionRow } from "./session-row";

/** Dependencies of `createClosedLeases`. */
export interface ClosedLeasesOptions {
  readonly db: Database.Database;
  /** This switch instance's owner token. */
  readonly owner: string;
  /** Throws if the switch has been closed. */
  readonly assertOpen: () => void;
}

/** Closed-session leases recorded in the database: see `createClosedLeases`. */
export interface ClosedLeases {
  /** Leases up to `max` closed sessions that no live owner holds. */
  take(max: number): ClosedLease;
}

/**
 * The sessions that ended first are handed out first (end time, then id), so
 * a collector slower than the closing rate never starves old sessions.
 * A lease marks its rows with this process's owner token and a lease number,
 * in the database, so that no other process (nor another lease of this one)
 * hands them out while it is open. `settle` deletes the delivered rows that
 * the lease still holds and releases the rest. If this process dies, its
 * owner row is reaped by the others (see membership.ts) and the sessions are
 * handed out again: delivered exactly once unless the deliverer dies between
 * writing to its stream and settling.
 */
export function createClosedLeases(options: ClosedLeasesOptions): ClosedLeases {
  const { db, owner, assertOpen } = options;
  let leaseSeq = 0;
  const pick = db.prepare(
    `SELECT ${SESSION_COLUMNS} FROM sessions
     WHERE state = 'closed' AND lease_owner IS NULL ORDER BY end_time, id LIMIT ?`,
  );
  const mark = db.prepare("UPDATE sessions SET lease_owner = ?, lease_id = ? WHERE id = ?");
  const remove = db.prepare("DELETE FROM sessions WHERE id = ? AND lease_owner = ? AND lease_id = ?");
  const release = db.prepare(
    "UPDATE sessions SET lease_owner = NULL, lease_id = NULL WHERE lease_owner = ? AND lease_id = ?",
  );

  const takeTx = db.transaction((max: number, leaseId: number): SessionRow[] => {
    const rows = pick.all(max) as SessionRow[];
    for (const row of rows) mark.run(owner, leaseId, row.id);
    // Picked oldest-ended first; a lease lists its sessions in id order.
    return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  });
  const settleTx = db.transaction((ids: readonly bigint[], leaseId: number) => {
    for (const id of ids) remove.run(idToStored(id), owner, leaseId);
    release.run(owner, leaseId);
  });

  return {
    take(max) {
      if (!Number.isInteger(max) || max < 1) {
        throw new RangeError(`takeClosed: max must be an integer >= 1, got ${max}`);
      }
      assertOpen();
      leaseSeq += 1;
      const leaseId = leaseSeq;
      const rows = takeTx.immediate(max, leaseId);
      let settled = false;
      return {
        sessions: rows.map(rowToSession),
        settle(deliveredIds) {
          if (settled) return;
          settled = true;
          if (rows.length === 0) return;
          assertOpen();
          settleTx.immediate(deliveredIds, leaseId);
        },
      };
    },
  };
}

import type Database from "better-sqlite3";
import { UINT64_MAX, type Clock, type Session, type SessionSpec } from "@sessionoffload/offload-api";
import type { AddResult } from "@sessionoffload/switch-backend";
import { newSession } from "@sessionoffload/switch-backend/kit";
import { idFromStored, idToStored } from "./id-codec";
import { liveKey, rowToSession, SESSION_COLUMNS, type SessionRow } from "./session-row";

/** Dependencies of `createWriteBatcher`. */
export interface WriteBatcherOptions {
  readonly db: Database.Database;
  readonly clock: Clock;
  /** Table capacity enforced by this process against the shared entry count. */
  readonly capacity: number;
  /** Most adds and deletes committed in one transaction. */
  readonly maxBatch: number;
}

/** Group commit of adds and deletes: see `createWriteBatcher`. */
export interface WriteBatcher {
  /** Queues an add (with the client's id, if given: checked by the caller); resolves once the transaction holding it has committed. */
  add(spec: SessionSpec, id?: bigint): Promise<AddResult>;
  /** Queues a delete; resolves with the deleted session (or undefined for an unknown id) once committed. */
  delete(id: bigint): Promise<Session | undefined>;
  /** Commits whatever is queued now, synchronously (used by close). */
  flush(): void;
  /** Group transactions committed so far (each one WAL sync), and the writes they decided. */
  stats(): CommitStats;
}

/** Counts of the group commits of one switch instance. */
export interface CommitStats {
  /** Group transactions committed. */
  readonly commits: number;
  /** Adds decided in them (accepted or not). */
  readonly adds: number;
  /** Deletes decided in them (found or not). */
  readonly deletes: number;
}

/** @deprecated The former name of `CommitStats`. */
export type AddBatcherStats = CommitStats;

type Outcome = AddResult | Session | undefined;

type Pending =
  | { readonly kind: "add"; readonly spec: SessionSpec; readonly id: bigint | undefined; readonly settle: Settle }
  | { readonly kind: "delete"; readonly id: bigint; readonly settle: Settle };

interface Settle {
  resolve(outcome: Outcome): void;
  reject(err: unknown): void;
}

const FIRST_STORED = idToStored(1n);
const LAST_STORED = idToStored(UINT64_MAX);

/**
 * Group commit: adds and deletes queued during one turn of the event loop are
 * decided in arrival order inside one IMMEDIATE transaction and committed
 * together (one WAL sync), then each is answered (so a delete and a re-add of
 * its 7-tuple in one batch behave as they would one by one). The id counter lives in the database and
 * is advanced in the same transaction as the insert, so ids are unique across
 * processes; the duplicate check is the UNIQUE index on the live 7-tuple, and
 * the capacity check reads the trigger-maintained entry count.
 */
export function createWriteBatcher(options: WriteBatcherOptions): WriteBatcher {
  const { db, clock, capacity, maxBatch } = options;
  const readState = db.prepare("SELECT next_id, entries FROM switch_state WHERE singleton = 1");
  const writeNextId = db.prepare("UPDATE switch_state SET next_id = ? WHERE singleton = 1");
  const findLive = db.prepare("SELECT id FROM sessions WHERE live_key = ?").pluck();
  const idInUse = db.prepare("SELECT 1 FROM sessions WHERE id = ?").pluck();
  const getRow = db.prepare(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = ?`);
  const deleteRow = db.prepare("DELETE FROM sessions WHERE id = ?");
  const insert = db.prepare(
    `INSERT INTO sessions (id, in_lif, out_lif, ip_version, source_ip, source_port, destination_ip,
       destination_port, protocol, action, next_hop, live_key, state, close_code, start_time, last_seen,
       idle_timeout_ms)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'established', 'notClosed', ?, ?, ?)`,
  );

  let queue: Pending[] = [];
  let scheduled = false;
  let commits = 0;
  let adds = 0;
  let deletes = 0;

  const decideAll = db.transaction((batch: readonly Pending[]): Outcome[] => {
    const state = readState.get() as { next_id: bigint; entries: bigint };
    let nextId = state.next_id;
    let entries = Number(state.entries);
    const results: Outcome[] = [];
    for (const op of batch) {
      if (op.kind === "delete") {
        const row = getRow.get(idToStored(op.id)) as SessionRow | undefined;
        if (row === undefined) {
          results.push(undefined);
          continue;
        }
        deleteRow.run(row.id);
        entries -= 1;
        results.push({ ...rowToSession(row), state: "closing1", endTime: clock.now() });
        continue;
      }
      const { spec } = op;
      if (op.id !== undefined && idInUse.get(idToStored(op.id)) !== undefined) {
        results.push({ kind: "alreadyExists", id: op.id });
        continue;
      }
      const key = liveKey(spec);
      const existing = findLive.get(key) as bigint | undefined;
      if (existing !== undefined) {
        results.push({ kind: "alreadyExists", id: idFromStored(existing) });
        continue;
      }
      if (entries >= capacity) {
        results.push({ kind: "tableFull" });
        continue;
      }
      let id: bigint;
      if (op.id !== undefined) {
        id = idToStored(op.id);
      } else {
        // Skip ids in the table: a client's (the second generation's), or any after the counter wrapped past 2^64-1.
        while (idInUse.get(nextId) !== undefined) nextId = nextId === LAST_STORED ? FIRST_STORED : nextId + 1n;
        id = nextId;
        nextId = id === LAST_STORED ? FIRST_STORED : id + 1n;
      }
      const now = clock.now();
      insert.run(
        id,
        spec.inLif,
        spec.outLif,
        spec.ipVersion,
        Buffer.from(spec.sourceIp),
        spec.sourcePort,
        Buffer.from(spec.destinationIp),
        spec.destinationPort,
        spec.protocol,
        spec.action,
        spec.nextHop,
        key,
        now,
        now,
        spec.idleTimeoutMs ?? 0,
      );
      entries += 1;
      results.push({ kind: "accepted", session: newSession(idFromStored(id), now) });
    }
    writeNextId.run(nextId);
    return results;
  });

  const flush = (): void => {
    scheduled = false;
    while (queue.length > 0) {
      const batch = queue.length <= maxBatch ? queue : queue.slice(0, maxBatch);
      queue = queue.length <= maxBatch ? [] : queue.slice(maxBatch);
      let results: Outcome[];
      try {
        results = decideAll.immediate(batch);
      } catch (err) {
        for (const pending of batch) pending.settle.reject(err);
        continue;
      }
      commits += 1;
      for (const pending of batch) {
        if (pending.kind === "add") adds += 1;
        else deletes += 1;
      }
      batch.forEach((pending, i) => pending.settle.resolve(results[i]));
    }
  };

  const enqueue = (make: (settle: Settle) => Pending): Promise<Outcome> =>
    new Promise<Outcome>((resolve, reject) => {
      queue.push(make({ resolve, reject }));
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });

  return {
    add: (spec, id) => enqueue((settle) => ({ kind: "add", spec, id, settle })) as Promise<AddResult>,
    delete: (id) => enqueue((settle) => ({ kind: "delete", id, settle })) as Promise<Session | undefined>,
    flush,
    stats: () => ({ commits, adds, deletes }),
  };
}

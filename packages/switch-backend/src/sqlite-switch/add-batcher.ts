import type Database from "better-sqlite3";
import type { Clock, Session, SessionSpec } from "@sessionoffload/offload-api";
import { UINT64_MAX } from "@sessionoffload/offload-api";
import type { AddResult } from "../backend";
import { idFromStored, idToStored } from "./id-codec";
import { liveKey } from "./session-row";

/** Dependencies of `createAddBatcher`. */
export interface AddBatcherOptions {
  readonly db: Database.Database;
  readonly clock: Clock;
  /** Table capacity enforced by this process against the shared entry count. */
  readonly capacity: number;
  /** Most adds committed in one transaction. */
  readonly maxBatch: number;
}

/** Group commit of adds: see `createAddBatcher`. */
export interface AddBatcher {
  /** Queues an add; resolves once the transaction holding it has committed. */
  add(spec: SessionSpec): Promise<AddResult>;
  /** Commits whatever is queued now, synchronously (used by close). */
  flush(): void;
  /** Group transactions committed so far (each one WAL sync), and the adds they decided. */
  stats(): AddBatcherStats;
}

/** Counts of the group commits of one switch instance. */
export interface AddBatcherStats {
  /** Group transactions committed. */
  readonly commits: number;
  /** Adds decided in them (accepted or not). */
  readonly adds: number;
}

interface Pending {
  readonly spec: SessionSpec;
  readonly resolve: (result: AddResult) => void;
  readonly reject: (err: unknown) => void;
}

const FIRST_STORED = idToStored(1n);
const LAST_STORED = idToStored(UINT64_MAX);

/**
 * Group commit: adds queued during one turn of the event loop are decided in
 * arrival order inside one IMMEDIATE transaction and committed together (one
 * WAL sync), then each is answered. The id counter lives in the database and
 * is advanced in the same transaction as the insert, so ids are unique across
 * processes; the duplicate check is the UNIQUE index on the live 7-tuple, and
 * the capacity check reads the trigger-maintained entry count.
 */
export function createAddBatcher(options: AddBatcherOptions): AddBatcher {
  const { db, clock, capacity, maxBatch } = options;
  const readState = db.prepare("SELECT next_id, entries FROM switch_state WHERE singleton = 1");
  const writeNextId = db.prepare("UPDATE switch_state SET next_id = ? WHERE singleton = 1");
  const findLive = db.prepare("SELECT id FROM sessions WHERE live_key = ?").pluck();
  const idInUse = db.prepare("SELECT 1 FROM sessions WHERE id = ?").pluck();
  const insert = db.prepare(
    `INSERT INTO sessions (id, in_lif, out_lif, ip_version, source_ip, source_port, destination_ip,
       destination_port, protocol, action, next_hop, live_key, state, close_code, start_time, last_seen)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'established', 'notClosed', ?, ?)`,
  );

  let queue: Pending[] = [];
  let scheduled = false;
  let commits = 0;
  let adds = 0;

  const decideAll = db.transaction((batch: readonly Pending[]): AddResult[] => {
    const state = readState.get() as { next_id: bigint; entries: bigint };
    let nextId = state.next_id;
    let entries = Number(state.entries);
    const results: AddResult[] = [];
    for (const { spec } of batch) {
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
      // Skip ids still in the table (only after the counter wrapped past 2^64-1).
      while (idInUse.get(nextId) !== undefined) nextId = nextId === LAST_STORED ? FIRST_STORED : nextId + 1n;
      const id = nextId;
      nextId = id === LAST_STORED ? FIRST_STORED : id + 1n;
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
      );
      entries += 1;
      const session: Session = {
        id: idFromStored(id),
        state: "established",
        closeCode: "notClosed",
        inPackets: 0n,
        outPackets: 0n,
        inBytes: 0n,
        outBytes: 0n,
        startTime: now,
        endTime: undefined,
      };
      results.push({ kind: "accepted", session });
    }
    writeNextId.run(nextId);
    return results;
  });

  const flush = (): void => {
    scheduled = false;
    while (queue.length > 0) {
      const batch = queue.length <= maxBatch ? queue : queue.slice(0, maxBatch);
      queue = queue.length <= maxBatch ? [] : queue.slice(maxBatch);
      let results: AddResult[];
      try {
        results = decideAll.immediate(batch);
      } catch (err) {
        for (const pending of batch) pending.reject(err);
        continue;
      }
      commits += 1;
      adds += batch.length;
      batch.forEach((pending, i) => pending.resolve(results[i] as AddResult));
    }
  };

  return {
    add(spec) {
      return new Promise<AddResult>((resolve, reject) => {
        queue.push({ spec, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    flush,
    stats: () => ({ commits, adds }),
  };
}

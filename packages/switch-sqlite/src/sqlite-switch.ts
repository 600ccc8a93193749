import { randomUUID } from "node:crypto";
import os from "node:os";
import type { CloseCode, Session, SessionSpec, SessionState } from "@sessionoffload/offload-api";
import type {
  AddOptions,
  AddResult,
  ClosedLease,
  IterateOptions,
  SwitchBackend,
  SwitchStats,
} from "@sessionoffload/switch-backend";
import { checkAddArguments } from "@sessionoffload/switch-backend/kit";
import { busyAsUnavailable, unlessBusy } from "./busy-error";
import { createWriteBatcher, type CommitStats } from "./write-batcher";
import { createClosedLeases } from "./closed-leases";
import { checkCounterDelta, createDataPlane, type CounterDelta } from "./data-plane";
import { idToStored } from "./id-codec";
import { createMembership } from "./membership";
import { openSwitchDatabase } from "./open-database";
import { resolveSqliteSwitchOptions, type SqliteSwitchOptions } from "./options";
import { rowToSession, SESSION_COLUMNS, type SessionRow } from "./session-row";
import { createSqliteTrafficModel } from "./traffic-model";

/** What one `step()` of the SQLite switch did. */
export interface SqliteStepReport {
  /** Whether this process held the leader lease and so ran the traffic model and idle timeouts. */
  readonly leader: boolean;
  /** Live sessions the traffic model visited. */
  readonly visited: number;
  /** Sessions ended by an idle timeout. */
  readonly expired: number;
}

/**
 * A simulated switch whose table lives in an SQLite file shared by every
 * process that opens it. Reads answer synchronously; `add` and `delete`
 * answer once their group commit is durable. Besides the SwitchBackend
 * methods it offers the data plane's controls, for tests and demos.
 */
export interface SqliteSwitch extends SwitchBackend {
  /** The database path as given. */
  readonly path: string;
  add(spec: SessionSpec, options?: AddOptions): Promise<AddResult>;
  get(id: bigint): Session | undefined;
  delete(id: bigint): Promise<Session | undefined>;
  sessions(options?: IterateOptions): Iterable<Session>;
  takeClosed(max: number): ClosedLease;
  size(): number;
  stats(): SwitchStats;
  close(): void;
  /**
   * One tick of the simulation, as the timer runs it: if this process holds
   * (or can take) the leader lease, the traffic model runs once and idle
   * sessions end with `timeout`; otherwise nothing happens.
   */
  step(): SqliteStepReport;
  /**
   * Ends a live session as the data plane would; false if the id is not live
   * (another process may have ended it first). A UDP session ends only by
   * `timeout`: `finAck` or `rst` on one is a RangeError.
   */
  endSession(id: bigint, code: Exclude<CloseCode, "notClosed">): boolean;
  /**
   * Adds traffic to a live session (counters wrap at 2^64) and refreshes its
   * idle timer; false if the id is not live. RangeError naming the field for an
   * increment outside 0..2^64-1.
   */
  addTraffic(id: bigint, delta: CounterDelta): boolean;
  /** Group commits of this instance so far: how many transactions, holding how many adds and deletes. */
  commitStats(): CommitStats;
  /**
   * One FIN step of a live TCP session (established -> closing1 -> closing2 ->
   * closed finAck): its new state, or undefined if the id is not live; a
   * RangeError for a UDP session.
   */
  finStep(id: bigint): SessionState | undefined;
}

function rejectBusy(err: unknown): never {
  throw busyAsUnavailable(err);
}

function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Opens (or creates) the switch database at `options.path` and answers a
 * SwitchBackend over it, with the memory switch's semantics and options.
 * Several processes may open the same file: ids come from a counter advanced
 * in the insert's transaction, closed-session leases and the leadership of
 * the traffic model and idle timeouts are rows with an owner that a heartbeat
 * keeps alive. Throws `SwitchOptionError` for a bad option and
 * `SqliteSwitchOpenError` (file untouched) for a file that is not ours,
 * corrupt or unwritable.
 */
export function createSqliteSwitch(options: SqliteSwitchOptions): SqliteSwitch {
  const resolved = resolveSqliteSwitchOptions(options);
  const { clock, pageSize } = resolved;
  const db = openSwitchDatabase(resolved.path, resolved);
  const owner = randomUUID();
  let closed = false;
  const closedError = (): Error => new Error(`sqlite switch ${resolved.path} is closed`);
  const assertOpen = (): void => {
    if (closed) throw closedError();
  };

  const membership = createMembership({
    db,
    clock,
    owner,
    leaseTimeoutMs: resolved.leaseTimeoutMs,
    host: os.hostname(),
    pid: process.pid,
    isPidAlive,
  });
  try {
    membership.heartbeat();
  } catch (err) {
    db.close();
    throw err;
  }
  const batcher = createWriteBatcher({ db, clock, capacity: resolved.capacity, maxBatch: resolved.maxBatch });
  const leases = createClosedLeases({ db, owner, assertOpen });
  const plane = createDataPlane(db, clock);
  const traffic =
    resolved.traffic === undefined ? undefined : createSqliteTrafficModel(db, plane, resolved.random, resolved.traffic);

  const getStmt = db.prepare(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = ?`);
  const pageStmt = db.prepare(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE id > ? ORDER BY id LIMIT ?`);
  const sizeStmt = db.prepare("SELECT entries FROM switch_state WHERE singleton = 1").pluck();
  // Counts through the partial index of closed sessions: no scan of the live ones.
  const closedStmt = db.prepare("SELECT count(*) FROM sessions WHERE state = 'closed'").pluck();

  const stepTx = db.transaction((): SqliteStepReport => {
    if (!membership.claimLeadership()) return { leader: false, visited: 0, expired: 0 };
    const visited = traffic === undefined ? 0 : traffic();
    const expired =
      plane.expireIdle("tcp", resolved.tcpIdleTimeoutMs) +
      plane.expireIdle("udp", resolved.udpIdleTimeoutMs) +
      plane.expireOwnIdle();
    return { leader: true, visited, expired };
  });
  const inWrite = <T>(fn: () => T): T => db.transaction(fn).immediate();

  // Timer callbacks must not throw: a busy database or a full disk is reported and retried next period.
  const safely = (what: string, fn: () => void) => () => {
    try {
      if (!closed) fn();
    } catch (err) {
      resolved.logger.warn({ err, path: resolved.path }, `sqlite switch ${what} failed; retrying next period`);
    }
  };
  const heartbeatTimer = setInterval(safely("heartbeat", membership.heartbeat), resolved.heartbeatIntervalMs);
  heartbeatTimer.unref();
  const tickTimer =
    resolved.tickIntervalMs > 0
      ? setInterval(
          safely("tick", () => stepTx.immediate()),
          resolved.tickIntervalMs,
        )
      : undefined;
  tickTimer?.unref();

  // Changes whenever this connection or another process commits a write.
  const versionStmt = db.prepare("SELECT total_changes() || ':' || data_version FROM pragma_data_version").pluck();

  // Iterates `inner`, rethrowing a busy database as SwitchUnavailableError.
  function* unlessBusyEach(inner: Generator<Session>): Generator<Session> {
    for (;;) {
      const next = unlessBusy(() => inner.next());
      if (next.done === true) return;
      yield next.value;
    }
  }

  function* iterate(afterId: bigint | undefined): Generator<Session> {
    let cursor = idToStored(afterId ?? 0n);
    for (;;) {
      assertOpen();
      // Each page is its own short read: no transaction stays open while the consumer is slow.
      const version = versionStmt.get();
      const rows = pageStmt.all(cursor, pageSize) as SessionRow[];
      let stale = false;
      for (const row of rows) {
        // A write since the page was read (a delete, say): read on from here instead of yielding old rows.
        if (versionStmt.get() !== version) {
          stale = true;
          break;
        }
        yield rowToSession(row);
        cursor = row.id;
      }
      if (!stale && rows.length < pageSize) return;
    }
  }

  return {
    path: resolved.path,
    add(spec, addOptions) {
      if (closed) return Promise.reject(closedError());
      try {
        checkAddArguments(spec, addOptions);
      } catch (err) {
        return Promise.reject(err);
      }
      return batcher.add(spec, addOptions?.id).catch(rejectBusy);
    },
    get(id) {
      assertOpen();
      const row = unlessBusy(() => getStmt.get(idToStored(id)) as SessionRow | undefined);
      return row === undefined ? undefined : rowToSession(row);
    },
    delete(id) {
      if (closed) return Promise.reject(closedError());
      return batcher.delete(id).catch(rejectBusy);
    },
    sessions(iterateOptions = {}) {
      assertOpen();
      return unlessBusyEach(iterate(iterateOptions.afterId));
    },
    takeClosed: (max) => unlessBusy(() => leases.take(max)),
    size() {
      assertOpen();
      return unlessBusy(() => Number(sizeStmt.get() as bigint));
    },
    stats() {
      assertOpen();
      return { capacity: resolved.capacity, closedPending: unlessBusy(() => Number(closedStmt.get() as bigint)) };
    },
    step() {
      assertOpen();
      return stepTx.immediate();
    },
    endSession(id, code) {
      assertOpen();
      return inWrite(() => plane.end(idToStored(id), code));
    },
    addTraffic(id, delta) {
      assertOpen();
      checkCounterDelta(delta);
      return inWrite(() => plane.addTraffic(idToStored(id), delta));
    },
    finStep(id) {
      assertOpen();
      return inWrite(() => plane.fin(idToStored(id)));
    },
    commitStats: () => batcher.stats(),
    close() {
      if (closed) return;
      clearInterval(heartbeatTimer);
      if (tickTimer !== undefined) clearInterval(tickTimer);
      try {
        batcher.flush();
        membership.leave();
      } finally {
        closed = true;
        db.close();
      }
    },
  };
}

import type { Session, SessionSpec } from "@sessionoffload/offload-api";

/** A value, or a promise of it: a fast in-memory switch answers synchronously. */
export type MaybePromise<T> = T | Promise<T>;

/** The outcome of `SwitchBackend.add`. */
export type AddResult =
  /** The session is in the table, `established`, with the requested id or a new one. */
  | { readonly kind: "accepted"; readonly session: Session }
  /**
   * The requested id is in the table (live or closed-not-yet-collected), or a
   * live session with the same 7-tuple is; `id` is that entry's id.
   */
  | { readonly kind: "alreadyExists"; readonly id: bigint }
  /** The table is at capacity (closed-not-yet-collected sessions count). */
  | { readonly kind: "tableFull" };

/**
 * Closed sessions handed out for delivery. While a lease is open, its sessions
 * are handed to no other caller. `settle` removes the delivered ones from the
 * table and frees their capacity; the rest are handed out again by a later
 * `takeClosed`. A lease that is never settled must not lose sessions either:
 * `settle([])` releases all of them.
 */
export interface ClosedLease {
  /** Ended sessions (`state` closed, a close code, `endTime` set), in ascending id order. */
  readonly sessions: readonly Session[];
  /** Removes the sessions with these ids (all of them from this lease) and releases the rest. */
  settle(deliveredIds: readonly bigint[]): MaybePromise<void>;
}

/** Counter increments: traffic a data plane counted for one session. */
export interface TrafficDelta {
  readonly inPackets: bigint;
  readonly outPackets: bigint;
  readonly inBytes: bigint;
  readonly outBytes: bigint;
}

/** Options of `SwitchBackend.add`. */
export interface AddOptions {
  /**
   * The id the client assigns (the second generation, openoffload.v1), in
   * 1..2^64-1. Absent: the switch assigns an id that is not in the table.
   */
  readonly id?: bigint;
}

/** Iteration options of `SwitchBackend.sessions`. */
export interface IterateOptions {
  /** Start after this id (exclusive); default: from the lowest id. */
  readonly afterId?: bigint;
}

/** What `SwitchBackend.stats` answers: counts for monitoring, cheap to read (no table scan). */
export interface SwitchStats {
  /** Most entries the table holds (live and closed-not-yet-collected). */
  readonly capacity: number;
  /** Ended sessions not yet collected (waiting for `takeClosed`, or held by an open lease). */
  readonly closedPending: number;
}

/**
 * The seam between the gRPC servers and a data plane: what a switch vendor
 * implements. It speaks in sessions, not in gRPC. Methods may answer
 * synchronously (an in-memory switch) or with a promise (a remote, durable
 * or kernel switch); callers must handle both.
 *
 * Failures (switch unreachable, store failure) are thrown or rejected as
 * errors; the servers answer them with UNAVAILABLE or INTERNAL. Data outcomes
 * (duplicate, full, not found) are never errors.
 */
export interface SwitchBackend {
  /**
   * Offloads a validated session. Ids are unsigned 64-bit, never 0, and one
   * id is never held by two entries: both generations of the API share one
   * id space. With `options.id` the session gets that id, and an id already
   * in the table (live or closed-not-yet-collected) answers `alreadyExists`
   * with that id; without it the switch picks an id that is not in the
   * table. Then a 7-tuple that is already live answers `alreadyExists` with
   * the live session's id (ended-but-uncollected sessions do not count as
   * duplicates, but do occupy capacity), and a full table `tableFull`.
   * `spec.idleTimeoutMs` (absent or 0: the switch's default for the
   * protocol) is the session's own idle timeout. Throws (or rejects with) a
   * ValidationError naming `sessionId` for an id outside 1..2^64-1, and
   * naming the field for a spec the switch cannot hold. Of several adds of
   * one id or one 7-tuple under way at once, exactly one is accepted.
   */
  add(spec: SessionSpec, options?: AddOptions): MaybePromise<AddResult>;

  /** The session as the switch sees it now, or undefined if the id is not in the table. */
  get(id: bigint): MaybePromise<Session | undefined>;

  /**
   * Removes a session at once and answers its final counters with
   * `state: "closing1"` and `endTime` = now; undefined if the id is not in the
   * table. A deleted session is never handed out by `takeClosed`.
   */
  delete(id: bigint): MaybePromise<Session | undefined>;

  /**
   * Every entry (live and closed-not-yet-collected) in ascending id order,
   * produced lazily: a caller that stops early, or reads slowly, never makes
   * the backend copy the table.
   */
  sessions(options?: IterateOptions): AsyncIterable<Session> | Iterable<Session>;

  /** Hands out up to `max` (>= 1) ended sessions that no open lease holds. */
  takeClosed(max: number): MaybePromise<ClosedLease>;

  /** Number of entries in the table (live and closed-not-yet-collected). */
  size(): MaybePromise<number>;

  /**
   * Optional: counts for monitoring (the reference server's `/metrics`),
   * read on every scrape, so it must not scan the table.
   */
  stats?(): MaybePromise<SwitchStats>;

  /** Stops timers and releases resources; the backend is unusable afterwards. */
  close(): MaybePromise<void>;
}

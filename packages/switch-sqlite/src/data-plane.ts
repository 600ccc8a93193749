import type Database from "better-sqlite3";
import { UINT64_MAX, type Clock, type CloseCode, type SessionState } from "@sessionoffload/offload-api";
import { counterFromStored, counterToStored, idFromStored } from "./id-codec";

/** Counter increments for one session. */
export interface CounterDelta {
  readonly inPackets: bigint;
  readonly outPackets: bigint;
  readonly inBytes: bigint;
  readonly outBytes: bigint;
}

/** What the data plane does to stored sessions (ids in stored form); call inside a write transaction. */
export interface DataPlane {
  /** Ends a live session with `code`; false if it is not live. A UDP session ends only by `timeout` (RangeError otherwise). */
  end(storedId: bigint, code: Exclude<CloseCode, "notClosed">): boolean;
  /** Adds traffic to a live session and refreshes its idle timer; false if it is not live. */
  addTraffic(storedId: bigint, delta: CounterDelta): boolean;
  /** One FIN step of a live TCP session: established -> closing1 -> closing2 -> closed (finAck); undefined if not live, RangeError for UDP. */
  fin(storedId: bigint): SessionState | undefined;
  /** Starts the FIN handshake of an established TCP session (-> closing1); false otherwise. */
  startFin(storedId: bigint): boolean;
  /** Ends the live sessions of `protocol` without their own timeout idle for `timeoutMs` or longer; returns how many. */
  expireIdle(protocol: "tcp" | "udp", timeoutMs: number): number;
  /** Ends the live sessions idle for their own timeout (`idle_timeout_ms` > 0) or longer; returns how many. */
  expireOwnIdle(): number;
}

const NS_PER_MS = 1_000_000n;

/** Counters wrap at 2^64, as the memory switch's (and a hardware switch's) do. */
function addWrapping(a: bigint, b: bigint): bigint {
  return BigInt.asUintN(64, a + b);
}

const COUNTER_FIELDS = ["inPackets", "outPackets", "inBytes", "outBytes"] as const;

/** Throws a RangeError naming the field unless every increment is a bigint in 0..2^64-1. */
export function checkCounterDelta(delta: CounterDelta): void {
  for (const field of COUNTER_FIELDS) {
    const value = delta[field];
    if (typeof value !== "bigint" || value < 0n || value > UINT64_MAX) {
      throw new RangeError(`addTraffic: ${field} must be a bigint in 0..2^64-1, got ${String(value)}`);
    }
  }
}

/** The data-plane operations of the SQLite switch, over prepared statements. */
export function createDataPlane(db: Database.Database, clock: Clock): DataPlane {
  const endStmt = db.prepare(
    `UPDATE sessions SET state = 'closed', close_code = ?, end_time = ?, live_key = NULL
     WHERE id = ? AND live_key IS NOT NULL`,
  );
  const readLive = db.prepare(
    `SELECT protocol, state, in_packets, out_packets, in_bytes, out_bytes FROM sessions
     WHERE id = ? AND live_key IS NOT NULL`,
  );
  const writeCounters = db.prepare(
    `UPDATE sessions SET in_packets = ?, out_packets = ?, in_bytes = ?, out_bytes = ?, last_seen = ? WHERE id = ?`,
  );
  const writeState = db.prepare("UPDATE sessions SET state = ? WHERE id = ?");
  const startFin = db.prepare(
    "UPDATE sessions SET state = 'closing1' WHERE id = ? AND state = 'established' AND protocol = 'tcp' AND live_key IS NOT NULL",
  );
  const expire = db.prepare(
    `UPDATE sessions SET state = 'closed', close_code = 'timeout', end_time = ?, live_key = NULL
     WHERE live_key IS NOT NULL AND idle_timeout_ms = 0 AND protocol = ? AND last_seen <= ?`,
  );
  const expireOwn = db.prepare(
    `UPDATE sessions SET state = 'closed', close_code = 'timeout', end_time = ?, live_key = NULL
     WHERE live_key IS NOT NULL AND idle_timeout_ms > 0 AND last_seen + idle_timeout_ms * 1000000 <= ?`,
  );

  interface LiveRow {
    readonly protocol: string;
    readonly state: string;
    readonly in_packets: bigint;
    readonly out_packets: bigint;
    readonly in_bytes: bigint;
    readonly out_bytes: bigint;
  }

  return {
    end(storedId, code) {
      if (code !== "timeout") {
        const row = readLive.get(storedId) as LiveRow | undefined;
        if (row === undefined) return false;
        if (row.protocol !== "tcp") {
          throw new RangeError(`endSession: session ${idFromStored(storedId)} is UDP; only timeout can end it`);
        }
      }
      return endStmt.run(code, clock.now(), storedId).changes > 0;
    },
    addTraffic(storedId, delta) {
      const row = readLive.get(storedId) as LiveRow | undefined;
      if (row === undefined) return false;
      writeCounters.run(
        counterToStored(addWrapping(counterFromStored(row.in_packets), delta.inPackets)),
        counterToStored(addWrapping(counterFromStored(row.out_packets), delta.outPackets)),
        counterToStored(addWrapping(counterFromStored(row.in_bytes), delta.inBytes)),
        counterToStored(addWrapping(counterFromStored(row.out_bytes), delta.outBytes)),
        clock.now(),
        storedId,
      );
      return true;
    },
    fin(storedId) {
      const row = readLive.get(storedId) as LiveRow | undefined;
      if (row === undefined) return undefined;
      if (row.protocol !== "tcp")
        throw new RangeError(`finStep: session ${idFromStored(storedId)} is UDP and has no FIN`);
      if (row.state === "established" || row.state === "closing1") {
        const next = row.state === "established" ? "closing1" : "closing2";
        writeState.run(next, storedId);
        return next;
      }
      endStmt.run("finAck", clock.now(), storedId);
      return "closed";
    },
    startFin: (storedId) => startFin.run(storedId).changes > 0,
    expireIdle(protocol, timeoutMs) {
      const now = clock.now();
      return expire.run(now, protocol, now - BigInt(Math.round(timeoutMs)) * NS_PER_MS).changes;
    },
    expireOwnIdle() {
      const now = clock.now();
      return expireOwn.run(now, now).changes;
    },
  };
}

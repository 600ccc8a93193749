import type { CloseCode, Session } from "@sessionoffload/offload-api";
import { alignColumns, formatAge } from "./session-format";

/** The whole table at one moment, as `getAllSessions` listed it. */
export interface TableSnapshot {
  /** When the listing finished, in milliseconds since the epoch. */
  readonly atMs: number;
  /** Every entry, by id. */
  readonly sessions: ReadonlyMap<bigint, Session>;
}

/** What the view shows besides the numbers. */
export interface WatchViewOptions {
  /** The statistics server watched, for the title. */
  readonly address: string;
  /** Refresh period in milliseconds, for the title. */
  readonly intervalMs: number;
  /** How many of the busiest sessions to list. */
  readonly top: number;
  /** Whether to say "q to quit" (a terminal). */
  readonly interactive: boolean;
}

/** The changes between two snapshots, per second. */
export interface TableRates {
  /** Seconds between the two snapshots. */
  readonly seconds: number;
  /** New entries per second. */
  readonly added: number;
  /** Sessions that ended, per second, by close code. */
  readonly ended: Readonly<Record<Exclude<CloseCode, "notClosed">, number>>;
  /** Entries that left the table (collected after they ended, or deleted), per second. */
  readonly left: number;
}

const isLive = (s: Session): boolean => s.state !== "closed";

/** What changed from `before` to `now`, per second (see `TableRates`). */
export function tableRates(before: TableSnapshot, now: TableSnapshot): TableRates {
  const seconds = Math.max((now.atMs - before.atMs) / 1000, 1e-3);
  let added = 0;
  let left = 0;
  const ended = { finAck: 0, rst: 0, timeout: 0 };
  for (const [id, s] of now.sessions) {
    const old = before.sessions.get(id);
    if (old === undefined) added += 1;
    if (!isLive(s) && s.closeCode !== "notClosed" && (old === undefined || isLive(old))) ended[s.closeCode] += 1;
  }
  for (const id of before.sessions.keys()) if (!now.sessions.has(id)) left += 1;
  return {
    seconds,
    added: added / seconds,
    left: left / seconds,
    ended: { finAck: ended.finAck / seconds, rst: ended.rst / seconds, timeout: ended.timeout / seconds },
  };
}

const rate = (perSecond: number): string => `${perSecond.toFixed(1)}/s`;
const total = (s: Session): bigint => s.inBytes + s.outBytes;

interface Busy {
  readonly session: Session;
  readonly inBytes: number;
  readonly outBytes: number;
  readonly inPackets: number;
  readonly outPackets: number;
}

// The live sessions that moved the most bytes since `before` (or, on the first frame, in all).
function busiest(now: TableSnapshot, before: TableSnapshot | undefined, top: number): Busy[] {
  const seconds = before === undefined ? undefined : Math.max((now.atMs - before.atMs) / 1000, 1e-3);
  const rows: Busy[] = [];
  for (const s of now.sessions.values()) {
    if (!isLive(s)) continue;
    const old = before?.sessions.get(s.id);
    const per = (nowValue: bigint, oldValue: bigint | undefined): number =>
      seconds === undefined ? Number(nowValue) : Number(nowValue - (oldValue ?? 0n)) / seconds;
    rows.push({
      session: s,
      inBytes: per(s.inBytes, old?.inBytes),
      outBytes: per(s.outBytes, old?.outBytes),
      inPackets: per(s.inPackets, old?.inPackets),
      outPackets: per(s.outPackets, old?.outPackets),
    });
  }
  rows.sort((a, b) => b.inBytes + b.outBytes - (a.inBytes + a.outBytes) || (a.session.id < b.session.id ? -1 : 1));
  return rows.slice(0, top);
}

/**
 * One frame of `offloadctl watch`: the table's size (live and ended-not-
 * collected), the rates of adds, ends by close code and departures since the
 * previous snapshot, and the busiest live sessions by bytes per second.
 */
export function renderWatchFrame(
  now: TableSnapshot,
  before: TableSnapshot | undefined,
  options: WatchViewOptions,
): string[] {
  let live = 0;
  for (const s of now.sessions.values()) if (isLive(s)) live += 1;
  const size = now.sessions.size;
  const title =
    `offloadctl watch ${options.address}  ${new Date(now.atMs).toISOString()}  ` +
    `(every ${options.intervalMs / 1000} s${options.interactive ? "; q to quit" : ""})`;
  const lines = [title, `table:  ${size} entries: ${live} live, ${size - live} ended, not yet collected`];
  if (before === undefined) {
    lines.push("adds:   -", "ended:  -", "left:   -");
  } else {
    const r = tableRates(before, now);
    lines.push(
      `adds:   ${rate(r.added)}`,
      `ended:  finAck ${rate(r.ended.finAck)}  rst ${rate(r.ended.rst)}  timeout ${rate(r.ended.timeout)}`,
      `left:   ${rate(r.left)} (collected or deleted)`,
    );
  }
  const rows = busiest(now, before, options.top);
  const per = before === undefined ? "" : "/S";
  lines.push(
    "",
    before === undefined
      ? `busiest ${rows.length} sessions (by bytes so far):`
      : `busiest ${rows.length} sessions (by bytes per second over the last ${tableRates(before, now).seconds.toFixed(1)} s):`,
  );
  const nowNs = BigInt(now.atMs) * 1_000_000n;
  const table = [
    ["ID", "STATE", `IN BYTES${per}`, `OUT BYTES${per}`, `IN PKTS${per}`, `OUT PKTS${per}`, "TOTAL BYTES", "AGE"],
    ...rows.map((b) => [
      String(b.session.id),
      b.session.state,
      b.inBytes.toFixed(0),
      b.outBytes.toFixed(0),
      b.inPackets.toFixed(0),
      b.outPackets.toFixed(0),
      String(total(b.session)),
      formatAge(nowNs - b.session.startTime),
    ]),
  ];
  lines.push(...alignColumns(table, [true, false, true, true, true, true, true, true]));
  return lines;
}

import type { AddSessionResult, EpochNanos, Session } from "@sessionoffload/offload-api";

/** A session as offloadctl prints it with --json: ids and counters as strings, times as ISO 8601 (nanoseconds). */
export interface SessionJson {
  readonly id: string;
  readonly state: Session["state"];
  readonly closeCode: Session["closeCode"];
  readonly inPackets: string;
  readonly outPackets: string;
  readonly inBytes: string;
  readonly outBytes: string;
  readonly startTime: string;
  /** Absent while the session is live. */
  readonly endTime?: string;
}

const NS_PER_MS = 1_000_000n;

/** Nanoseconds since the epoch as ISO 8601 UTC with all nine fractional digits, e.g. "2026-12-02T07:08:25.123456789Z". */
export function nanosToIso(ns: EpochNanos): string {
  const ms = ns / NS_PER_MS - (ns % NS_PER_MS < 0n ? 1n : 0n);
  const fraction = ns - ms * NS_PER_MS; // 0..999999 ns past the millisecond
  const iso = new Date(Number(ms)).toISOString(); // ...T07:08:25.123Z
  return `${iso.slice(0, -1)}${String(fraction).padStart(6, "0")}Z`;
}

/** The JSON form of a session (see `SessionJson`). */
export function sessionToJson(s: Session): SessionJson {
  return {
    id: String(s.id),
    state: s.state,
    closeCode: s.closeCode,
    inPackets: String(s.inPackets),
    outPackets: String(s.outPackets),
    inBytes: String(s.inBytes),
    outBytes: String(s.outBytes),
    startTime: nanosToIso(s.startTime),
    ...(s.endTime === undefined ? {} : { endTime: nanosToIso(s.endTime) }),
  };
}

/** The JSON form of an addSession result: the typed client's result with ids as strings. */
export function addResultToJson(r: AddSessionResult): Record<string, unknown> {
  switch (r.kind) {
    case "accepted":
      return { kind: r.kind, id: String(r.id), session: sessionToJson(r.session) };
    case "alreadyExists":
      return { kind: r.kind, id: String(r.id), afterRetry: r.afterRetry };
    case "tableFull":
      return { kind: r.kind };
  }
}

/** A duration in nanoseconds as "5.2s", "3m04s" or "1h02m". */
export function formatAge(ns: bigint): string {
  const ms = Number(ns / NS_PER_MS);
  if (ms < 0) return "0.0s";
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** A session as "key: value" lines, for `get` and `delete`. */
export function describeSession(s: Session): string[] {
  const json = sessionToJson(s);
  return [
    `id:          ${json.id}`,
    `state:       ${json.state}`,
    `close code:  ${json.closeCode}`,
    `in:          ${json.inPackets} packets, ${json.inBytes} bytes`,
    `out:         ${json.outPackets} packets, ${json.outBytes} bytes`,
    `start time:  ${json.startTime}`,
    ...(json.endTime === undefined ? [] : [`end time:    ${json.endTime}`]),
  ];
}

/** Lays out rows of cells as aligned columns (numbers right-aligned where `right[i]`), one line per row. */
export function alignColumns(rows: readonly (readonly string[])[], right: readonly boolean[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (right[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

const TABLE_HEADER = ["ID", "STATE", "CLOSE", "IN PKTS", "IN BYTES", "OUT PKTS", "OUT BYTES", "AGE"] as const;
// Fixed widths, so that a listing of any length is written as it streams (a wider value pushes its line only).
const WIDTHS = [10, 11, 7, 12, 14, 12, 14, 7] as const;
const RIGHT = [true, false, false, true, true, true, true, true] as const;

function fixed(cells: readonly string[]): string {
  return cells
    .map((cell, i) => (RIGHT[i] ? cell.padStart(WIDTHS[i] ?? 0) : cell.padEnd(WIDTHS[i] ?? 0)))
    .join("  ")
    .trimEnd();
}

/** The header line of the session table (see `sessionLine`). */
export function sessionHeader(): string {
  return fixed(TABLE_HEADER);
}

/** One session as a line of the session table: id, state, close code, counters, age (for an ended one, its life). */
export function sessionLine(s: Session, now: EpochNanos): string {
  return fixed([
    String(s.id),
    s.state,
    s.closeCode === "notClosed" ? "-" : s.closeCode,
    String(s.inPackets),
    String(s.inBytes),
    String(s.outPackets),
    String(s.outBytes),
    formatAge((s.endTime ?? now) - s.startTime),
  ]);
}

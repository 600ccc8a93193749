import type { EpochNanos, Session } from "@sessionoffload/offload-api";

const COLUMNS = ["ID", "STATE", "CLOSE", "IN PKTS", "IN BYTES", "OUT PKTS", "OUT BYTES", "AGE"] as const;

/** Formats a duration in nanoseconds as "1h02m", "3m04s" or "5.2s". */
export function formatAge(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  if (ms < 0) return "0.0s";
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/**
 * Renders sessions as an aligned text table: id, state, close code, counters
 * per direction, and age (time since start; for an ended session, how long it lived).
 */
export function renderSessionTable(sessions: readonly Session[], now: EpochNanos): string[] {
  const rows = sessions.map((s) => [
    String(s.id),
    s.state,
    s.closeCode === "notClosed" ? "-" : s.closeCode,
    String(s.inPackets),
    String(s.inBytes),
    String(s.outPackets),
    String(s.outBytes),
    formatAge((s.endTime ?? now) - s.startTime),
  ]);
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === 0 || i >= 3 ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(COLUMNS), ...rows.map(line)];
}

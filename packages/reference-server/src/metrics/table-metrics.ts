import { Gauge, type Registry } from "prom-client";
import { createSilentLogger, type Logger } from "@sessionoffload/offload-api";
import type { MaybePromise, SwitchBackend } from "@sessionoffload/switch-backend";
import { createSnapshotCounter } from "./snapshot-counter";

/** The metric families `createTableMetrics` registers. */
export const TABLE_METRIC_NAMES = [
  "offload_sessions",
  "offload_sessions_capacity",
  "offload_closed_pending",
  "offload_sessions_added_total",
  "offload_sessions_rejected_total",
  "offload_sessions_closed_total",
  "offload_switch_errors_total",
] as const;

/** Why an add was refused, as `offload_sessions_rejected_total{reason}` says it. */
export type RejectReason = "already_exists" | "table_full";
const REJECT_REASONS: readonly RejectReason[] = ["already_exists", "table_full"];

/**
 * How a session left the table, as `offload_sessions_closed_total{code}` says
 * it: collected after the switch ended it (`fin_ack`, `rst`, `timeout`), or
 * taken back with deleteSession (`deleted`).
 */
export type ClosedCode = "fin_ack" | "rst" | "timeout" | "deleted";
const CLOSED_CODES: readonly ClosedCode[] = ["fin_ack", "rst", "timeout", "deleted"];

/** The SwitchBackend operations whose failures `offload_switch_errors_total{operation}` counts. */
export type SwitchOperation = "add" | "get" | "delete" | "sessions" | "takeClosed" | "settle" | "size" | "stats";
const OPERATIONS: readonly SwitchOperation[] = [
  "add",
  "get",
  "delete",
  "sessions",
  "takeClosed",
  "settle",
  "size",
  "stats",
];

/** What the table's users did, counted in plain numbers (cheap on the hot path). */
export interface TableCounts {
  /** An add was accepted. */
  added(): void;
  /** An add was refused. */
  rejected(reason: RejectReason): void;
  /** `count` sessions left the table with `code`. */
  closed(code: ClosedCode, count?: number): void;
  /** The switch threw or rejected in `operation`. */
  switchError(operation: SwitchOperation): void;
}

/** Options of `createTableMetrics`. */
export interface TableMetricsOptions {
  /** The switch whose `size()` and `stats()` are read on each scrape. */
  readonly backend: SwitchBackend;
  /** Capacity to report when the switch has no `stats()`; omitted when unknown. */
  readonly capacity?: number;
  /** How long a scrape waits for the switch's answer before leaving the gauge out; default 1000 ms. */
  readonly readTimeoutMs?: number;
  /** Where a slow or failing read is reported (warn); default silent. */
  readonly logger?: Logger;
}

type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

// Reads a switch value with a time limit: a scrape never waits long on a slow switch.
async function readWithin<T>(read: () => MaybePromise<T>, timeoutMs: number): Promise<Outcome<T>> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<Outcome<T>>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
    });
    const answer = Promise.resolve()
      .then(read)
      .then(
        (value): Outcome<T> => ({ ok: true, value }),
        (err: unknown): Outcome<T> => ({ ok: false, reason: err instanceof Error ? err.message : String(err) }),
      );
    return await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// Sets a label-less gauge, or leaves it out of this scrape when the value is unknown.
function setOrOmit(gauge: Gauge, value: number | undefined): void {
  if (value === undefined) gauge.remove();
  else gauge.set(value);
}

/**
 * Registers the table metrics: the table's size, capacity and ended-not-
 * collected sessions (read from the switch on each scrape, with a time
 * limit; a gauge the switch cannot answer is left out of that scrape), and
 * the counters of adds, refusals, closes and switch errors, which the
 * answered `TableCounts` feeds (see `createObservedBackend`).
 */
export function createTableMetrics(registry: Registry, options: TableMetricsOptions): TableCounts {
  const { backend } = options;
  const timeoutMs = options.readTimeoutMs ?? 1000;
  const logger = options.logger ?? createSilentLogger();
  let added = 0;
  const rejected = new Map<RejectReason, number>(REJECT_REASONS.map((r) => [r, 0]));
  const closed = new Map<ClosedCode, number>(CLOSED_CODES.map((c) => [c, 0]));
  const errors = new Map<SwitchOperation, number>(OPERATIONS.map((o) => [o, 0]));
  const counts: TableCounts = {
    added() {
      added += 1;
    },
    rejected(reason) {
      rejected.set(reason, (rejected.get(reason) ?? 0) + 1);
    },
    closed(code, count = 1) {
      closed.set(code, (closed.get(code) ?? 0) + count);
    },
    switchError(operation) {
      errors.set(operation, (errors.get(operation) ?? 0) + 1);
    },
  };

  async function read<T>(operation: "size" | "stats", fn: () => MaybePromise<T>): Promise<T | undefined> {
    const outcome = await readWithin(fn, timeoutMs);
    if (outcome.ok) return outcome.value;
    if (!outcome.reason.startsWith("no answer")) counts.switchError(operation);
    logger.warn({ operation, reason: outcome.reason }, "metrics: switch read failed; its gauge is left out");
    return undefined;
  }

  const stats = backend.stats?.bind(backend);
  new Gauge({
    name: "offload_sessions",
    help: "Entries in the offload table (live and ended-not-yet-collected).",
    registers: [registry],
    async collect() {
      setOrOmit(this, await read("size", () => backend.size()));
    },
  });
  new Gauge({
    name: "offload_sessions_capacity",
    help: "Most entries the offload table holds.",
    registers: [registry],
    async collect() {
      setOrOmit(this, stats === undefined ? options.capacity : (await read("stats", stats))?.capacity);
    },
  });
  if (stats !== undefined) {
    new Gauge({
      name: "offload_closed_pending",
      help: "Sessions the switch ended that no client has collected yet (getClosedSessions).",
      registers: [registry],
      async collect() {
        setOrOmit(this, (await read("stats", stats))?.closedPending);
      },
    });
  }
  createSnapshotCounter(registry, "offload_sessions_added_total", "Sessions accepted into the table.", [], () => [
    [{}, added],
  ]);
  createSnapshotCounter(
    registry,
    "offload_sessions_rejected_total",
    "Adds refused: already_exists (a live session has the 7-tuple) or table_full.",
    ["reason"],
    () => [...rejected].map(([reason, value]) => [{ reason }, value] as const),
  );
  createSnapshotCounter(
    registry,
    "offload_sessions_closed_total",
    "Sessions that left the table: collected after the switch ended them (fin_ack, rst, timeout) or deleted.",
    ["code"],
    () => [...closed].map(([code, value]) => [{ code }, value] as const),
  );
  createSnapshotCounter(
    registry,
    "offload_switch_errors_total",
    "Errors the switch threw or rejected with, by operation.",
    ["operation"],
    () => [...errors].map(([operation, value]) => [{ operation }, value] as const),
  );
  return counts;
}

/** One measurement, in the shape of offload-loadgen's JSON line (the fields the report uses). */
export interface LoadResult {
  scenario: string;
  concurrency: number;
  ops: number;
  seconds: number;
  ops_per_s: number;
  sessions_per_s?: number;
  sessions?: number;
  latency_us: { p50: number; p90: number; p99: number; max: number; mean: number };
  first_message_us?: { p50: number };
  grpc_status: Record<string, number>;
  request_status: Record<string, number>;
  errors: number;
  ok: boolean;
  /** Which driver produced it: the C++ offload-loadgen or the Node fallback. */
  driver?: string;
  /**
   * The server's CPU time (user + system, all threads) per call, µs, where measured: h2load rows per call of the
   * timed run; loadgen rows per call of the whole run (prefill and warmup included), streams per session sent.
   */
  server_cpu_us_per_call?: number;
  /** The driver's own CPU time (user + system) per session, µs, where measured (openoffload adds). */
  driver_cpu_us_per_session?: number;
}

/** Percentile (0..100) of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Median of values (0 for none). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

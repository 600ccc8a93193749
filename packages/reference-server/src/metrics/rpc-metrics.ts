import type { ServiceDefinition } from "@grpc/grpc-js";
import { GRPC_CODE_NAMES, grpcCodeName } from "./grpc-code-names";
import { escapeLabelValue, formatSampleValue } from "./exposition";
import type { CallObserver, CallTracker, RpcType } from "@sessionoffload/server-transport";

/** The metric families `createRpcMetrics` writes, named as go-grpc-prometheus names them. */
export const RPC_METRIC_NAMES = [
  "grpc_server_started_total",
  "grpc_server_handled_total",
  "grpc_server_msg_received_total",
  "grpc_server_msg_sent_total",
  "grpc_server_handling_seconds",
] as const;

/** go-grpc-prometheus's (and Prometheus's) default buckets of `grpc_server_handling_seconds`, in seconds. */
export const DEFAULT_HANDLING_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Default cap on distinct (service, method) pairs; calls past it are counted under service and method "other". */
export const DEFAULT_MAX_METHODS = 256;

/** One method of a service, for `RpcMetrics.initialize`. */
export interface RpcMethod {
  /** The method's name as in the call path, e.g. "addSession". */
  readonly name: string;
  readonly type: RpcType;
}

/** Options of `createRpcMetrics`. */
export interface RpcMetricsOptions {
  /** Monotonic time in milliseconds; default `performance.now`. */
  readonly now?: () => number;
  /** Upper bounds of `grpc_server_handling_seconds`, ascending; default `DEFAULT_HANDLING_BUCKETS`. */
  readonly buckets?: readonly number[];
  /** Most distinct (service, method) pairs; default `DEFAULT_MAX_METHODS`. */
  readonly maxMethods?: number;
}

/**
 * The server's gRPC metrics: a `CallObserver` for the transport, which counts
 * in plain numbers on the hot path (no label hashing, no allocation but the
 * call's tracker), and writes the counts in the Prometheus text format when
 * scraped.
 */
export interface RpcMetrics extends CallObserver {
  /**
   * Makes a service's series exist at zero before its first call (every
   * method, every `grpc_code`), as go-grpc-prometheus's InitializeMetrics
   * does, so that `rate()` sees the first calls.
   */
  initialize(service: string, methods: readonly RpcMethod[]): void;
  /** The metric families as Prometheus text (version 0.0.4), each with HELP and TYPE lines. */
  exposition(): string;
}

interface MethodRecord {
  /** `{grpc_type="...",grpc_service="...",grpc_method="..."}` without the braces. */
  readonly labels: string;
  started: number;
  received: number;
  sent: number;
  /** Calls ended, by status code 0..16. */
  readonly handled: Float64Array;
  /** Calls ended, by bucket (not cumulative); the last cell is +Inf. */
  readonly buckets: Float64Array;
  sum: number;
}

interface Tracker extends CallTracker {
  readonly record: MethodRecord;
  readonly startMs: number;
  readonly metrics: { readonly now: () => number; readonly bounds: readonly number[] };
  done: boolean;
}

function messageReceived(this: Tracker): void {
  this.record.received += 1;
}

function messageSent(this: Tracker): void {
  this.record.sent += 1;
}

function ended(this: Tracker, code: number): void {
  if (this.done) return;
  this.done = true;
  const record = this.record;
  const cell = code >>> 0 === code && code < GRPC_CODE_NAMES.length ? code : 2;
  record.handled[cell] = (record.handled[cell] as number) + 1;
  const seconds = Math.max(0, (this.metrics.now() - this.startMs) / 1000);
  const bounds = this.metrics.bounds;
  let i = 0;
  while (i < bounds.length && seconds > (bounds[i] as number)) i += 1;
  record.buckets[i] = (record.buckets[i] as number) + 1;
  record.sum += seconds;
}

/** The type of a grpc-js method definition, as `grpc_type` names it. */
export function rpcTypeOf(method: { readonly requestStream: boolean; readonly responseStream: boolean }): RpcType {
  if (method.requestStream) return method.responseStream ? "bidi_stream" : "client_stream";
  return method.responseStream ? "server_stream" : "unary";
}

/**
 * The service name and methods of a grpc-js service definition (from each
 * method's path, "/sessions.v1.SessionTable/addSession"), for `RpcMetrics.initialize`.
 */
export function describeService(definition: ServiceDefinition): { service: string; methods: RpcMethod[] } {
  let service = "";
  const methods: RpcMethod[] = [];
  for (const method of Object.values(definition)) {
    const slash = method.path.lastIndexOf("/");
    service = method.path.slice(1, slash);
    methods.push({ name: method.path.slice(slash + 1), type: rpcTypeOf(method) });
  }
  return { service, methods };
}

function checkBuckets(buckets: readonly number[]): readonly number[] {
  for (let i = 0; i < buckets.length; i += 1) {
    const b = buckets[i] as number;
    if (!Number.isFinite(b) || (i > 0 && b <= (buckets[i - 1] as number))) {
      throw new RangeError(`buckets: must be finite and ascending, got ${buckets.join(",")}`);
    }
  }
  return [...buckets];
}

const HELP: Record<(typeof RPC_METRIC_NAMES)[number], string> = {
  grpc_server_started_total: "Total number of RPCs started on the server.",
  grpc_server_handled_total: "Total number of RPCs completed on the server, regardless of success or failure.",
  grpc_server_msg_received_total: "Total number of RPC stream messages received on the server.",
  grpc_server_msg_sent_total: "Total number of gRPC stream messages sent by the server.",
  grpc_server_handling_seconds:
    "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
};

/** Makes the gRPC server metrics (see `RpcMetrics`). Throws RangeError for bad buckets or maxMethods. */
export function createRpcMetrics(options: RpcMetricsOptions = {}): RpcMetrics {
  const now = options.now ?? (() => performance.now());
  const bounds = checkBuckets(options.buckets ?? DEFAULT_HANDLING_BUCKETS);
  const maxMethods = options.maxMethods ?? DEFAULT_MAX_METHODS;
  if (!Number.isInteger(maxMethods) || maxMethods < 1) {
    throw new RangeError(`maxMethods: must be an integer >= 1, got ${maxMethods}`);
  }
  const shared = { now, bounds };
  const byService = new Map<string, Map<string, MethodRecord>>();
  const records: MethodRecord[] = [];
  let overflow: MethodRecord | undefined;

  function newRecord(type: RpcType, service: string, method: string): MethodRecord {
    const record: MethodRecord = {
      labels:
        `grpc_type="${escapeLabelValue(type)}",grpc_service="${escapeLabelValue(service)}",` +
        `grpc_method="${escapeLabelValue(method)}"`,
      started: 0,
      received: 0,
      sent: 0,
      handled: new Float64Array(GRPC_CODE_NAMES.length),
      buckets: new Float64Array(bounds.length + 1),
      sum: 0,
    };
    records.push(record);
    return record;
  }

  function recordOf(service: string, method: string, type: RpcType): MethodRecord {
    let methods = byService.get(service);
    const known = methods?.get(method);
    if (known !== undefined) return known;
    if (records.length >= maxMethods) {
      overflow ??= newRecord(type, "other", "other");
      return overflow;
    }
    if (methods === undefined) {
      methods = new Map();
      byService.set(service, methods);
    }
    const record = newRecord(type, service, method);
    methods.set(method, record);
    return record;
  }

  function exposition(): string {
    const out: string[] = [];
    const family = (name: (typeof RPC_METRIC_NAMES)[number], type: "counter" | "histogram"): void => {
      out.push(`# HELP ${name} ${HELP[name]}`, `# TYPE ${name} ${type}`);
    };
    family("grpc_server_started_total", "counter");
    for (const r of records) out.push(`grpc_server_started_total{${r.labels}} ${r.started}`);
    family("grpc_server_handled_total", "counter");
    for (const r of records) {
      for (let code = 0; code < GRPC_CODE_NAMES.length; code += 1) {
        out.push(`grpc_server_handled_total{${r.labels},grpc_code="${grpcCodeName(code)}"} ${r.handled[code]}`);
      }
    }
    family("grpc_server_msg_received_total", "counter");
    for (const r of records) out.push(`grpc_server_msg_received_total{${r.labels}} ${r.received}`);
    family("grpc_server_msg_sent_total", "counter");
    for (const r of records) out.push(`grpc_server_msg_sent_total{${r.labels}} ${r.sent}`);
    family("grpc_server_handling_seconds", "histogram");
    for (const r of records) {
      let cumulative = 0;
      for (let i = 0; i <= bounds.length; i += 1) {
        cumulative += r.buckets[i] as number;
        const le = i < bounds.length ? formatSampleValue(bounds[i] as number) : "+Inf";
        out.push(`grpc_server_handling_seconds_bucket{${r.labels},le="${le}"} ${cumulative}`);
      }
      out.push(`grpc_server_handling_seconds_sum{${r.labels}} ${formatSampleValue(r.sum)}`);
      out.push(`grpc_server_handling_seconds_count{${r.labels}} ${cumulative}`);
    }
    return `${out.join("\n")}\n`;
  }

  return {
    callStarted(call) {
      const record = recordOf(call.service, call.method, call.type);
      record.started += 1;
      const tracker: Tracker = {
        record,
        startMs: now(),
        metrics: shared,
        done: false,
        messageReceived,
        messageSent,
        ended,
      };
      return tracker;
    },
    initialize(service, methods) {
      for (const m of methods) recordOf(service, m.name, m.type);
    },
    exposition,
  };
}

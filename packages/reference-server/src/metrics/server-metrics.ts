import type { ServiceDefinition } from "@grpc/grpc-js";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { Logger } from "@sessionoffload/offload-api";
import type { SwitchBackend } from "@sessionoffload/switch-backend";
import { createObservedBackend } from "./observed-backend";
import {
  createRpcMetrics,
  describeService,
  RPC_METRIC_NAMES,
  type RpcMetrics,
  type RpcMetricsOptions,
} from "./rpc-metrics";
import { createTableMetrics, TABLE_METRIC_NAMES } from "./table-metrics";
import { registerTransportMetrics, TRANSPORT_METRIC_NAMES, type LabelledTransportStats } from "./transport-metrics";

/** Options of `createServerMetrics`. */
export interface ServerMetricsOptions {
  /** The switch to observe and read on each scrape. */
  readonly backend: SwitchBackend;
  /** The table's capacity, reported when the switch has no `stats()`. */
  readonly capacity?: number;
  /** Services whose RPC series start at zero (every method, every code). */
  readonly services?: readonly ServiceDefinition[];
  /** The transport counts of each server, read on each scrape; default none. */
  readonly transportStats?: () => readonly LabelledTransportStats[];
  /** Options of the RPC metrics (clock, buckets). */
  readonly rpc?: RpcMetricsOptions;
  /** Slow or failing switch reads, at warn. */
  readonly logger?: Logger;
}

/** Everything the reference server's `/metrics` shows, and the hooks that feed it. */
export interface ServerMetrics {
  /** The prom-client registry: process and Node runtime metrics, the table, the transport. */
  readonly registry: Registry;
  /** The gRPC metrics: the `CallObserver` to give the servers. */
  readonly rpc: RpcMetrics;
  /** The switch to give the handlers: `backend`, counted. */
  readonly backend: SwitchBackend;
  /** The whole `/metrics` text. */
  collect(): Promise<string>;
}

/** Every metric family the reference server exports besides prom-client's process and runtime metrics. */
export const SERVER_METRIC_NAMES: readonly string[] = [
  ...RPC_METRIC_NAMES,
  ...TABLE_METRIC_NAMES,
  ...TRANSPORT_METRIC_NAMES,
];

/**
 * Makes the reference server's metrics: prom-client's default process and
 * Node runtime metrics, the table metrics over a counted (observed) switch,
 * the transport's counts, and the gRPC metrics, in one registry of its own
 * (never prom-client's global one).
 */
export function createServerMetrics(options: ServerMetricsOptions): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const counts = createTableMetrics(registry, {
    backend: options.backend,
    capacity: options.capacity,
    logger: options.logger,
  });
  const transportStats = options.transportStats;
  if (transportStats !== undefined) registerTransportMetrics(registry, transportStats);
  const rpc = createRpcMetrics(options.rpc);
  for (const definition of options.services ?? []) {
    const { service, methods } = describeService(definition);
    rpc.initialize(service, methods);
  }
  return {
    registry,
    rpc,
    backend: createObservedBackend(options.backend, counts),
    async collect() {
      return `${await registry.metrics()}\n${rpc.exposition()}`;
    },
  };
}

import { Gauge, type Registry } from "prom-client";
import { createSnapshotCounter, type Labels } from "./snapshot-counter";
import type { TransportStats } from "@sessionoffload/server-transport";

/** The metric families `registerTransportMetrics` registers. */
export const TRANSPORT_METRIC_NAMES = [
  "offload_transport_connections_accepted_total",
  "offload_transport_connections_open",
  "offload_transport_connections_rejected_total",
  "offload_transport_goaway_sent_total",
  "offload_transport_rst_stream_sent_total",
  "offload_transport_refused_streams_total",
  "offload_transport_limit_hits_total",
  "offload_transport_held_request_bytes",
] as const;

/** The transport counts of one server, labelled `server` (e.g. "sessions", "stats"). */
export interface LabelledTransportStats {
  readonly server: string;
  readonly stats: TransportStats;
}

function* totals(
  read: () => readonly LabelledTransportStats[],
  pick: (stats: TransportStats) => number,
): Iterable<readonly [Labels<"server">, number]> {
  for (const { server, stats } of read()) yield [{ server }, pick(stats)];
}

function* byName<K extends string>(
  read: () => readonly LabelledTransportStats[],
  key: K,
  pick: (stats: TransportStats) => Readonly<Partial<Record<string, number>>>,
): Iterable<readonly [Labels<"server" | K>, number]> {
  for (const { server, stats } of read()) {
    for (const [name, value] of Object.entries(pick(stats))) {
      if (value !== undefined) yield [{ server, [key]: name } as Labels<"server" | K>, value];
    }
  }
}

/**
 * Registers the transport's counts (connections, GOAWAY and RST_STREAM sent
 * by error code, refused streams, limit hits by limit, request bytes held), read from `read()` on
 * each scrape: nothing is counted on the hot path here.
 */
export function registerTransportMetrics(registry: Registry, read: () => readonly LabelledTransportStats[]): void {
  createSnapshotCounter(
    registry,
    "offload_transport_connections_accepted_total",
    "HTTP/2 connections accepted.",
    ["server"],
    () => totals(read, (s) => s.connections.accepted),
  );
  new Gauge({
    name: "offload_transport_connections_open",
    help: "HTTP/2 connections open now.",
    labelNames: ["server"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of totals(read, (s) => s.connections.open)) this.set(labels, value);
    },
  });
  createSnapshotCounter(
    registry,
    "offload_transport_connections_rejected_total",
    "HTTP/2 connections refused at once (connection cap).",
    ["server"],
    () => totals(read, (s) => s.connections.rejected),
  );
  createSnapshotCounter(
    registry,
    "offload_transport_goaway_sent_total",
    "GOAWAY frames sent, by HTTP/2 error code.",
    ["server", "code"],
    () => byName(read, "code", (s) => s.goaway),
  );
  createSnapshotCounter(
    registry,
    "offload_transport_rst_stream_sent_total",
    "RST_STREAM frames sent, by HTTP/2 error code.",
    ["server", "code"],
    () => byName(read, "code", (s) => s.rstStream),
  );
  createSnapshotCounter(
    registry,
    "offload_transport_refused_streams_total",
    "Streams refused with REFUSED_STREAM (concurrent-streams limit, shutdown).",
    ["server"],
    () => totals(read, (s) => s.refusedStreams),
  );
  createSnapshotCounter(
    registry,
    "offload_transport_limit_hits_total",
    "Times a transport limit was hit, by limit.",
    ["server", "limit"],
    () => byName(read, "limit", (s) => s.limitHits),
  );
  new Gauge({
    name: "offload_transport_held_request_bytes",
    help: "Request bytes received and not yet consumed, over all connections, now (limit: --max-held-request-bytes).",
    labelNames: ["server"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of totals(read, (s) => s.heldRequestBytes)) this.set(labels, value);
    },
  });
}

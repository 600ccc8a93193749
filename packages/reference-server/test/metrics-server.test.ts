import { afterEach, expect, it } from "@jest/globals";
import { request } from "node:http";
import { createServer } from "node:net";
import { sessionsV1 } from "@sessionoffload/offload-api";
import { createMemorySwitch, type MemorySwitch } from "@sessionoffload/switch-backend";
import {
  createMetricsServer,
  createServerMetrics,
  SERVER_METRIC_NAMES,
  type MetricsServer,
  type TransportStats,
} from "@sessionoffload/reference-server/metrics";
import {
  describeWithPrometheusParser,
  familyNames,
  parsePrometheusText,
  valueOf,
} from "../../../test/support/prometheus-text";

let sw: MemorySwitch | undefined;
let server: MetricsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  sw?.close();
});

function get(
  port: number,
  path: string,
  method = "GET",
): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"], body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const transport = (open: number): TransportStats => ({
  connections: { accepted: 12, open, rejected: 2 },
  goaway: { NO_ERROR: 3, ENHANCE_YOUR_CALM: 1 },
  rstStream: { CANCEL: 4 },
  refusedStreams: 5,
  limitHits: { maxConcurrentStreams: 5, maxHeaderListSize: 1, notHit: undefined },
  heldRequestBytes: open * 1000,
});

describeWithPrometheusParser("the /metrics endpoint", () => {
  it("serves process, runtime, table, transport and gRPC metrics that a Prometheus parser reads", async () => {
    sw = createMemorySwitch({ capacity: 100, traffic: false, tickIntervalMs: 0 });
    const metrics = createServerMetrics({
      backend: sw,
      services: [sessionsV1.SessionTableService, sessionsV1.SessionStatisticsTableService],
      transportStats: () => [
        { server: "sessions", stats: transport(3) },
        { server: "stats", stats: transport(1) },
      ],
    });
    metrics.backend.add({
      inLif: "",
      outLif: "",
      ipVersion: "ipv4",
      sourceIp: Uint8Array.of(10, 0, 0, 1),
      sourcePort: 1000,
      destinationIp: Uint8Array.of(10, 0, 0, 2),
      destinationPort: 80,
      protocol: "tcp",
      action: "forward",
      nextHop: "",
    });
    metrics.rpc.callStarted({ service: "sessions.v1.SessionTable", method: "addSession", type: "unary" }).ended(0);
    server = createMetricsServer({ collect: () => metrics.collect() });
    const port = await server.listen("127.0.0.1", 0);
    const res = await get(port, "/metrics");
    expect(res.status).toBe(200);
    expect(res.type).toBe("text/plain; version=0.0.4; charset=utf-8");
    const families = parsePrometheusText(res.body);
    const names = familyNames(res.body);
    for (const name of SERVER_METRIC_NAMES) expect(names).toContain(name);
    for (const name of [
      "process_cpu_user_seconds_total",
      "process_resident_memory_bytes",
      "nodejs_heap_size_used_bytes",
    ])
      expect(names).toContain(name);
    expect(new Set(names).size).toBe(names.length);
    expect(valueOf(families, "offload_sessions")).toBe(1);
    expect(valueOf(families, "offload_sessions_added_total")).toBe(1);
    expect(valueOf(families, "offload_sessions_capacity")).toBe(100);
    const unary = { grpc_type: "unary", grpc_service: "sessions.v1.SessionTable" };
    expect(valueOf(families, "grpc_server_started_total", { ...unary, grpc_method: "addSession" })).toBe(1);
    expect(valueOf(families, "grpc_server_started_total", { ...unary, grpc_method: "getSession" })).toBe(0);
    expect(valueOf(families, "offload_transport_connections_open", { server: "sessions" })).toBe(3);
    expect(valueOf(families, "offload_transport_connections_open", { server: "stats" })).toBe(1);
    expect(valueOf(families, "offload_transport_connections_accepted_total", { server: "stats" })).toBe(12);
    expect(
      valueOf(families, "offload_transport_goaway_sent_total", { server: "sessions", code: "ENHANCE_YOUR_CALM" }),
    ).toBe(1);
    expect(valueOf(families, "offload_transport_rst_stream_sent_total", { server: "stats", code: "CANCEL" })).toBe(4);
    expect(valueOf(families, "offload_transport_refused_streams_total", { server: "stats" })).toBe(5);
    expect(
      valueOf(families, "offload_transport_limit_hits_total", { server: "sessions", limit: "maxHeaderListSize" }),
    ).toBe(1);
    expect(valueOf(families, "offload_transport_held_request_bytes", { server: "stats" })).toBe(1000);
  });

  it("answers / with a pointer, 404 elsewhere, 405 for other methods, HEAD without a body", async () => {
    server = createMetricsServer({ collect: async () => "# HELP x y\n# TYPE x gauge\nx 1\n" });
    const port = await server.listen("127.0.0.1", 0);
    expect((await get(port, "/")).body).toContain("/metrics");
    expect((await get(port, "/nope")).status).toBe(404);
    expect((await get(port, "/metrics", "POST")).status).toBe(405);
    const head = await get(port, "/metrics?x=1", "HEAD");
    expect([head.status, head.body]).toEqual([200, ""]);
  });

  it("answers 500 when collecting fails, and goes on serving", async () => {
    let fail = true;
    server = createMetricsServer({
      collect: async () => {
        if (fail) throw new Error("boom");
        return "";
      },
    });
    const port = await server.listen("127.0.0.1", 0);
    expect((await get(port, "/metrics")).status).toBe(500);
    fail = false;
    expect((await get(port, "/metrics")).status).toBe(200);
  });

  it("frees its port on close, and rejects a port in use", async () => {
    server = createMetricsServer({ collect: async () => "" });
    const port = await server.listen("127.0.0.1", 0);
    await get(port, "/metrics");
    const other = createMetricsServer({ collect: async () => "" });
    await expect(other.listen("127.0.0.1", port)).rejects.toMatchObject({ code: "EADDRINUSE" });
    await server.close();
    server = undefined;
    const probe = createServer();
    await new Promise<void>((resolve, reject) => probe.once("error", reject).listen(port, "127.0.0.1", resolve));
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });
});

import { afterAll, afterEach, beforeAll, expect, it } from "@jest/globals";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createOffloadClient, type OffloadClient, type SessionInput } from "@sessionoffload/offload-api";
import { RPC_METRIC_NAMES, TABLE_METRIC_NAMES } from "@sessionoffload/reference-server/metrics";
import {
  describeWithPrometheusParser,
  familyNames,
  parsePrometheusText,
  samples,
  valueOf,
  type Family,
} from "../../../test/support/prometheus-text";
import { killAll, runCommand, whenReady, type RunningCommand, type StartedServer } from "./offload-server-process";

let workdir: string;
const commands: RunningCommand[] = [];
beforeAll(() => {
  workdir = mkdtempSync(join(tmpdir(), "offload-cli-metrics-"));
});
afterEach(() => killAll(commands));
afterAll(() => rmSync(workdir, { recursive: true, force: true }));

async function start(args: string[]): Promise<StartedServer> {
  const running = runCommand(args, { cwd: workdir });
  commands.push(running);
  return whenReady(running);
}

async function scrape(port: number): Promise<{ text: string; families: Family[] }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, families: parsePrometheusText(text) };
}

const session = (port: number): SessionInput => ({
  sourceIp: "10.0.0.1",
  sourcePort: port,
  destinationIp: "10.0.0.2",
  destinationPort: 443,
  protocol: "tcp",
  action: "forward",
});

function clientOf(server: StartedServer): OffloadClient {
  return createOffloadClient({
    sessionsAddress: `127.0.0.1:${server.ports.sessions}`,
    statsAddress: `127.0.0.1:${server.ports.stats}`,
    credentials: { insecure: true },
  });
}

describeWithPrometheusParser("offload-server --metrics-port", () => {
  it("serves /metrics: the table's counts as adds, refusals, closes and deletes happen, plus process metrics", async () => {
    const server = await start([
      "--insecure",
      "--sessions-port",
      "0",
      "--stats-port",
      "0",
      "--metrics-port",
      "0",
      "--max-sessions",
      "3",
      "--traffic",
      "off",
      "--tcp-idle-timeout",
      "0.3",
    ]);
    expect(Object.keys(server.ports)).toEqual(["sessions", "stats", "metrics"]);
    expect(server.stdout()).toContain(`listening service=metrics address=127.0.0.1:${server.ports.metrics} `);
    const metricsPort = server.ports.metrics as number;
    const before = await scrape(metricsPort);
    const names = familyNames(before.text);
    for (const name of [...TABLE_METRIC_NAMES, ...RPC_METRIC_NAMES]) expect(names).toContain(name);
    for (const name of ["process_cpu_seconds_total", "process_start_time_seconds", "nodejs_eventloop_lag_seconds"])
      expect(names).toContain(name);
    expect(valueOf(before.families, "offload_sessions")).toBe(0);
    expect(valueOf(before.families, "offload_sessions_capacity")).toBe(3);
    // Every hosted method's series exist from the start, at zero.
    const started = samples(before.families, "grpc_server_started_total");
    expect(started.map((s) => `${s.labels.grpc_service}/${s.labels.grpc_method} ${s.labels.grpc_type}`)).toEqual([
      "sessions.v1.SessionTable/addSession unary",
      "sessions.v1.SessionTable/getSession unary",
      "sessions.v1.SessionTable/deleteSession unary",
      "openoffload.v1.SessionTable/addSession client_stream",
      "openoffload.v1.SessionTable/getSession unary",
      "openoffload.v1.SessionTable/deleteSession unary",
      "openoffload.v1.SessionTable/getAllSessions unary",
      "openoffload.v1.SessionTable/getClosedSessions server_stream",
      "sessions.v1.SessionStatisticsTable/getAllSessions server_stream",
      "sessions.v1.SessionStatisticsTable/getClosedSessions server_stream",
    ]);
    expect(started.every((s) => s.value === 0)).toBe(true);

    const client = clientOf(server);
    try {
      const a = await client.addSession(session(1000));
      const b = await client.addSession(session(1001));
      expect((await client.addSession(session(1000))).kind).toBe("alreadyExists");
      await client.addSession(session(1002));
      expect((await client.addSession(session(1003))).kind).toBe("tableFull");
      if (a.kind !== "accepted" || b.kind !== "accepted") throw new Error("not accepted");
      expect((await client.deleteSession(b.id)).kind).toBe("found");
      // a and the third end by idle timeout; collect them.
      const closed: bigint[] = [];
      for (let i = 0; i < 100 && closed.length < 2; i += 1) {
        for await (const s of client.getClosedSessions()) closed.push(s.id);
        if (closed.length < 2) await new Promise((r) => setTimeout(r, 100));
      }
      expect(closed).toHaveLength(2);
    } finally {
      client.close();
    }
    const after = await scrape(metricsPort);
    expect(valueOf(after.families, "offload_sessions_added_total")).toBe(3);
    expect(valueOf(after.families, "offload_sessions_rejected_total", { reason: "already_exists" })).toBe(1);
    expect(valueOf(after.families, "offload_sessions_rejected_total", { reason: "table_full" })).toBe(1);
    expect(valueOf(after.families, "offload_sessions_closed_total", { code: "deleted" })).toBe(1);
    expect(valueOf(after.families, "offload_sessions_closed_total", { code: "timeout" })).toBe(2);
    expect(valueOf(after.families, "offload_sessions")).toBe(0);
    expect(valueOf(after.families, "offload_closed_pending")).toBe(0);
    expect(valueOf(after.families, "offload_switch_errors_total", { operation: "add" })).toBe(0);

    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    await expect(fetch(`http://127.0.0.1:${metricsPort}/metrics`)).rejects.toThrow();
  });

  it.each(["native", "grpc-js"])("counts every call in grpc_server_* (--transport %s)", async (transport) => {
    const server = await start([
      "--insecure",
      "--transport",
      transport,
      "--sessions-port",
      "0",
      "--stats-port",
      "0",
      "--metrics-port",
      "0",
    ]);
    const client = clientOf(server);
    try {
      await client.addSession(session(2000));
      for await (const s of client.getAllSessions()) expect(s.id).toBeGreaterThan(0n);
    } finally {
      client.close();
    }
    const { families } = await scrape(server.ports.metrics as number);
    const add = { grpc_type: "unary", grpc_service: "sessions.v1.SessionTable", grpc_method: "addSession" };
    expect(valueOf(families, "grpc_server_started_total", add)).toBe(1);
    expect(valueOf(families, "grpc_server_handled_total", { ...add, grpc_code: "OK" })).toBe(1);
    expect(valueOf(families, "grpc_server_msg_received_total", add)).toBe(1);
    expect(valueOf(families, "grpc_server_msg_sent_total", add)).toBe(1);
    expect(valueOf(families, "grpc_server_handling_seconds_count", add)).toBe(1);
    const all = {
      grpc_type: "server_stream",
      grpc_service: "sessions.v1.SessionStatisticsTable",
      grpc_method: "getAllSessions",
    };
    expect(valueOf(families, "grpc_server_started_total", all)).toBe(1);
    expect(valueOf(families, "grpc_server_handled_total", { ...all, grpc_code: "OK" })).toBe(1);
    expect(valueOf(families, "grpc_server_msg_sent_total", all)).toBe(1);
  });

  it("exports the native transport's counts (offload_transport_*)", async () => {
    const server = await start(["--insecure", "--sessions-port", "0", "--stats-port", "0", "--metrics-port", "0"]);
    const client = clientOf(server);
    try {
      await client.addSession(session(2001));
    } finally {
      client.close();
    }
    const { families } = await scrape(server.ports.metrics as number);
    const accepted = samples(families, "offload_transport_connections_accepted_total");
    expect(accepted.reduce((n, sample) => n + Number(sample.value), 0)).toBeGreaterThan(0);
  });

  it("exits 2 with one line when the metrics port is in use, leaving nothing bound", async () => {
    const first = await start(["--insecure", "--sessions-port", "0", "--stats-port", "0", "--metrics-port", "0"]);
    const busy = first.ports.metrics as number;
    const second = runCommand(
      ["--insecure", "--sessions-port", "0", "--stats-port", "0", "--metrics-port", String(busy)],
      { cwd: workdir },
    );
    commands.push(second);
    expect(await second.exited).toBe(2);
    expect(second.stderr().trim().split("\n")).toEqual([
      `offload-server: error: cannot listen on 127.0.0.1:${busy} for metrics: address already in use`,
    ]);
  });
});

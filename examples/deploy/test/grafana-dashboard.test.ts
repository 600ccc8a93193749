/**
 * The Grafana dashboard's queries read only metrics that offload-server
 * exports: every PromQL expression is parsed with the Prometheus project's
 * PromQL grammar (lezer-promql), and every metric name in it must appear on
 * the /metrics of a real offload-server, or, for the gRPC and transport
 * metrics that the transport feeds, among the names the metrics modules
 * register.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parser } from "@prometheus-io/lezer-promql";
import { RPC_METRIC_NAMES, TRANSPORT_METRIC_NAMES } from "@sessionoffload/reference-server/metrics";
import { describeWithPrometheusParser, familyNames, parsePrometheusText } from "../../../test/support/prometheus-text";
import {
  killAll,
  runCommand,
  whenReady,
  type RunningCommand,
} from "../../../packages/reference-server/test/offload-server-process";

interface Target {
  readonly expr: string;
  readonly refId: string;
}
interface Panel {
  readonly type: string;
  readonly title: string;
  readonly datasource?: unknown;
  readonly gridPos: { x: number; y: number; w: number; h: number };
  readonly targets?: readonly Target[];
}
interface Dashboard {
  readonly uid: string;
  readonly panels: readonly Panel[];
  readonly templating: { list: ReadonlyArray<{ name: string; query: { query: string } }> };
  readonly __inputs: ReadonlyArray<{ name: string; pluginId: string }>;
}

const dashboard = JSON.parse(readFileSync(join(__dirname, "../grafana-dashboard.json"), "utf8")) as Dashboard;

// Grafana's variables, replaced by what they stand for so that the PromQL grammar reads the query.
function withoutVariables(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, "5m");
}

/** The metric names a PromQL expression selects; throws naming the expression if it does not parse. */
function metricNames(expr: string): string[] {
  const text = withoutVariables(expr);
  const tree = parser.parse(text);
  const names: string[] = [];
  let error: number | undefined;
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) error ??= node.from;
      if (node.name === "Identifier" && node.node.parent?.name === "VectorSelector") {
        names.push(text.slice(node.from, node.to));
      }
    },
  });
  if (error !== undefined) throw new Error(`PromQL does not parse at ${error}: ${text}`);
  return names;
}

function expressions(): string[] {
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  // label_values(SELECTOR, label) is Grafana's; its selector is PromQL.
  for (const v of dashboard.templating.list) {
    const selector = /^label_values\((.*),\s*\w+\)$/.exec(v.query.query)?.[1];
    if (selector === undefined) throw new Error(`variable ${v.name}: not label_values(...)`);
    exprs.push(selector);
  }
  return exprs;
}

describe("the Grafana dashboard (examples/deploy/grafana-dashboard.json)", () => {
  it("is an importable dashboard: a Prometheus data source input, panels with queries, within the 24-column grid", () => {
    expect(dashboard.uid).toBe("sessionoffload-server");
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: "DS_PROMETHEUS", pluginId: "prometheus" })]);
    const panels = dashboard.panels.filter((p) => p.type !== "row");
    expect(panels.length).toBeGreaterThanOrEqual(15);
    for (const p of panels) {
      expect([p.title, p.gridPos.x + p.gridPos.w <= 24]).toEqual([p.title, true]);
      expect([p.title, (p.targets ?? []).length > 0]).toEqual([p.title, true]);
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size).toBe(refIds.length);
    }
  });

  it("every query parses as PromQL", () => {
    for (const expr of expressions()) expect(() => metricNames(expr)).not.toThrow();
  });

  it("covers the RPCs, the table, the transport and the process", () => {
    const used = new Set(expressions().flatMap(metricNames));
    for (const name of [
      "grpc_server_started_total",
      "grpc_server_handled_total",
      "grpc_server_handling_seconds_bucket",
      "offload_sessions",
      "offload_sessions_capacity",
      "offload_sessions_added_total",
      "offload_sessions_rejected_total",
      "offload_sessions_closed_total",
      "offload_closed_pending",
      "offload_switch_errors_total",
      "offload_transport_refused_streams_total",
      "offload_transport_goaway_sent_total",
      "process_cpu_seconds_total",
    ]) {
      expect([name, used.has(name)]).toEqual([name, true]);
    }
  });
});

describeWithPrometheusParser("the dashboard against a real offload-server's /metrics", () => {
  let workdir: string;
  const commands: RunningCommand[] = [];
  let exported: Set<string>;

  beforeAll(async () => {
    workdir = mkdtempSync(join(tmpdir(), "offload-dashboard-"));
    const running = runCommand(["--insecure", "--sessions-port", "0", "--stats-port", "0", "--metrics-port", "0"], {
      cwd: workdir,
    });
    commands.push(running);
    const server = await whenReady(running);
    const text = await (await fetch(`http://127.0.0.1:${server.ports.metrics}/metrics`)).text();
    const samples = parsePrometheusText(text).flatMap((f) => f.samples.map((s) => s.name));
    exported = new Set([...familyNames(text), ...samples]);
  });
  afterAll(() => {
    killAll(commands);
    rmSync(workdir, { recursive: true, force: true });
  });

  it("every metric a query reads is exported (gRPC and transport: registered by the metrics modules)", () => {
    const registered = new Set<string>([
      ...RPC_METRIC_NAMES,
      ...["_bucket", "_sum", "_count"].map((suffix) => `grpc_server_handling_seconds${suffix}`),
      ...TRANSPORT_METRIC_NAMES,
    ]);
    const missing = [...new Set(expressions().flatMap(metricNames))].filter(
      (name) => !exported.has(name) && !registered.has(name),
    );
    expect(missing).toEqual([]);
  });
});

import { expect, it } from "@jest/globals";
import { sessionsV1 } from "@sessionoffload/offload-api";
import {
  createRpcMetrics,
  describeService,
  GRPC_CODE_NAMES,
  RPC_METRIC_NAMES,
  type RpcMetricsOptions,
} from "@sessionoffload/reference-server/metrics";
import {
  describeWithPrometheusParser,
  familyNames,
  parsePrometheusText,
  samples,
  valueOf,
} from "../../../test/support/prometheus-text";

const ADD = { service: "sessions.v1.SessionTable", method: "addSession", type: "unary" } as const;
const ALL = { service: "sessions.v1.SessionStatisticsTable", method: "getAllSessions", type: "server_stream" } as const;
const addLabels = { grpc_type: "unary", grpc_service: ADD.service, grpc_method: ADD.method };
const allLabels = { grpc_type: "server_stream", grpc_service: ALL.service, grpc_method: ALL.method };

function clocked(options: Omit<RpcMetricsOptions, "now"> = {}) {
  let ms = 1000;
  const metrics = createRpcMetrics({ ...options, now: () => ms });
  return { metrics, advance: (by: number) => (ms += by) };
}

describeWithPrometheusParser("createRpcMetrics", () => {
  it("counts calls, messages and codes as go-grpc-prometheus does, with handling times in buckets", () => {
    const { metrics, advance } = clocked();
    for (let i = 0; i < 3; i += 1) {
      const call = metrics.callStarted(ADD);
      call.messageReceived();
      advance(3); // 3 ms: le 0.005
      call.messageSent();
      call.ended(0);
    }
    const late = metrics.callStarted(ADD);
    late.messageReceived();
    advance(700); // 0.7 s: le 1
    late.ended(4);
    const stream = metrics.callStarted(ALL);
    stream.messageReceived();
    for (let i = 0; i < 5; i += 1) stream.messageSent();
    advance(20_000); // beyond the last bucket: +Inf only
    stream.ended(1);

    const text = metrics.exposition();
    const families = parsePrometheusText(text);
    expect(familyNames(text)).toEqual([...RPC_METRIC_NAMES]);
    expect(valueOf(families, "grpc_server_started_total", addLabels)).toBe(4);
    expect(valueOf(families, "grpc_server_msg_received_total", addLabels)).toBe(4);
    expect(valueOf(families, "grpc_server_msg_sent_total", addLabels)).toBe(3);
    expect(valueOf(families, "grpc_server_handled_total", { ...addLabels, grpc_code: "OK" })).toBe(3);
    expect(valueOf(families, "grpc_server_handled_total", { ...addLabels, grpc_code: "DeadlineExceeded" })).toBe(1);
    expect(valueOf(families, "grpc_server_handled_total", { ...allLabels, grpc_code: "Canceled" })).toBe(1);
    expect(valueOf(families, "grpc_server_msg_sent_total", allLabels)).toBe(5);
    // Every code is written for a method that was seen, as InitializeMetrics does.
    expect(samples(families, "grpc_server_handled_total", addLabels).map((s) => s.labels.grpc_code)).toEqual([
      ...GRPC_CODE_NAMES,
    ]);
    const bucket = (le: string, labels: Record<string, string> = addLabels) =>
      valueOf(families, "grpc_server_handling_seconds_bucket", { ...labels, le });
    expect([bucket("0.005"), bucket("0.5"), bucket("1"), bucket("10"), bucket("+Inf")]).toEqual([3, 3, 4, 4, 4]);
    expect(valueOf(families, "grpc_server_handling_seconds_count", addLabels)).toBe(4);
    expect(valueOf(families, "grpc_server_handling_seconds_sum", addLabels)).toBeCloseTo(0.709, 9);
    expect([bucket("10", allLabels), bucket("+Inf", allLabels)]).toEqual([0, 1]);
    expect(families.find((f) => f.name === "grpc_server_handling_seconds")?.type).toBe("histogram");
    expect(families.find((f) => f.name === "grpc_server_started")?.type).toBe("counter");
  });

  it("initialize makes every method's series exist at zero, typed from the service definition", () => {
    const { metrics } = clocked();
    for (const definition of [sessionsV1.SessionTableService, sessionsV1.SessionStatisticsTableService]) {
      const { service, methods } = describeService(definition);
      metrics.initialize(service, methods);
    }
    const families = parsePrometheusText(metrics.exposition());
    const started = samples(families, "grpc_server_started_total");
    expect(started.map((s) => [s.labels.grpc_type, s.labels.grpc_service, s.labels.grpc_method, s.value])).toEqual([
      ["unary", "sessions.v1.SessionTable", "addSession", 0],
      ["unary", "sessions.v1.SessionTable", "getSession", 0],
      ["unary", "sessions.v1.SessionTable", "deleteSession", 0],
      ["server_stream", "sessions.v1.SessionStatisticsTable", "getAllSessions", 0],
      ["server_stream", "sessions.v1.SessionStatisticsTable", "getClosedSessions", 0],
    ]);
    expect(samples(families, "grpc_server_handled_total")).toHaveLength(5 * 17);
    expect(samples(families, "grpc_server_handling_seconds_bucket")).toHaveLength(5 * 12);
  });

  it("counts a call's end once, and a code outside 0..16 as Unknown", () => {
    const { metrics } = clocked();
    const call = metrics.callStarted(ADD);
    call.ended(0);
    call.ended(13);
    metrics.callStarted(ADD).ended(99);
    metrics.callStarted(ADD).ended(-1);
    const families = parsePrometheusText(metrics.exposition());
    expect(valueOf(families, "grpc_server_handled_total", { ...addLabels, grpc_code: "OK" })).toBe(1);
    expect(valueOf(families, "grpc_server_handled_total", { ...addLabels, grpc_code: "Internal" })).toBe(0);
    expect(valueOf(families, "grpc_server_handled_total", { ...addLabels, grpc_code: "Unknown" })).toBe(2);
    expect(valueOf(families, "grpc_server_handling_seconds_count", addLabels)).toBe(3);
  });

  it("bounds the methods it tracks, counting the rest under other/other", () => {
    const { metrics } = clocked({ maxMethods: 2 });
    for (const method of ["a", "b", "c", "d"]) metrics.callStarted({ service: "x.S", method, type: "unary" }).ended(0);
    const families = parsePrometheusText(metrics.exposition());
    expect(samples(families, "grpc_server_started_total").map((s) => [s.labels.grpc_method, s.value])).toEqual([
      ["a", 1],
      ["b", 1],
      ["other", 2],
    ]);
  });

  it("escapes label values so that the text stays parseable", () => {
    const { metrics } = clocked();
    metrics.callStarted({ service: 'we"ird\\svc\nname', method: "m", type: "bidi_stream" }).ended(0);
    const families = parsePrometheusText(metrics.exposition());
    expect(samples(families, "grpc_server_started_total")[0]?.labels.grpc_service).toBe('we"ird\\svc\nname');
  });

  it("takes custom buckets and refuses bad ones", () => {
    const { metrics, advance } = clocked({ buckets: [0.001, 0.002] });
    const call = metrics.callStarted(ADD);
    advance(1.5);
    call.ended(0);
    const families = parsePrometheusText(metrics.exposition());
    const buckets = samples(families, "grpc_server_handling_seconds_bucket").map((s) => [s.labels.le, s.value]);
    expect(buckets).toEqual([
      ["0.001", 0],
      ["0.002", 1],
      ["+Inf", 1],
    ]);
    expect(() => createRpcMetrics({ buckets: [0.2, 0.1] })).toThrow(RangeError);
    expect(() => createRpcMetrics({ buckets: [Infinity] })).toThrow(RangeError);
    expect(() => createRpcMetrics({ maxMethods: 0 })).toThrow(RangeError);
  });
});

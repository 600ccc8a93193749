import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { sessionsV1 } from "@sessionoffload/offload-api";
import { percentile, type LoadResult } from "./loadgen-result";

/**
 * A small load generator in Node (grpc-js), the fallback driver when the C++
 * offload-loadgen is not built. Its own CPU cost per call is close to the
 * server's, so its figures are lower bounds; the report says which driver ran.
 */
export interface NodeRun {
  scenario: "add" | "get" | "delete" | "dump" | "closed";
  sessionsTarget: string;
  statsTarget: string;
  n: number;
  concurrency?: number;
  prefill?: number;
  seed?: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

function tupleFactory(seed: number): () => sessionsV1.sessionRequest {
  const rand = rng(seed);
  let i = 0;
  return () => {
    i++;
    return {
      inLif: "lif-in-1",
      outLif: "lif-out-1",
      ipVersion: sessionsV1.IP_VERSION._IPV4,
      sourceIp: Buffer.from([10, (i >>> 16) & 255, (i >>> 8) & 255, i & 255]),
      sourcePort: 1024 + Math.floor(rand() * 60000),
      destinationIp: Buffer.from([192, 0, 2, 1 + Math.floor(rand() * 250)]),
      destinationPort: 1 + Math.floor(rand() * 65535),
      protocolId: sessionsV1.PROTOCOL_ID._TCP,
      action: { actionType: sessionsV1.ACTION_TYPE._FORWARD, actionNextHop: "" },
    };
  };
}

type Unary<Req> = (req: Req, cb: (err: ServiceError | null, res?: sessionsV1.sessionResponse) => void) => void;

async function drive<Req>(
  n: number,
  concurrency: number,
  call: Unary<Req>,
  next: () => Req,
  tally: LoadResult,
): Promise<number[]> {
  const latencies: number[] = [];
  let issued = 0;
  const worker = async () => {
    while (issued < n) {
      issued++;
      const req = next();
      const t0 = process.hrtime.bigint();
      await new Promise<void>((resolve) => {
        call(req, (err, res) => {
          latencies.push(Number(process.hrtime.bigint() - t0) / 1000);
          const code = err ? (status[err.code] ?? String(err.code)) : "OK";
          tally.grpc_status[code] = (tally.grpc_status[code] ?? 0) + 1;
          if (err) tally.errors++;
          if (res) {
            const rs = sessionsV1.REQUEST_STATUS[res.requestStatus] ?? String(res.requestStatus);
            tally.request_status[rs] = (tally.request_status[rs] ?? 0) + 1;
          }
          resolve();
        });
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return latencies;
}

/** Runs one scenario with grpc-js clients (plaintext) and returns loadgen-shaped results. */
export async function runNodeLoadgen(run: NodeRun): Promise<LoadResult> {
  const creds = credentials.createInsecure();
  const sessions = new sessionsV1.SessionTableClient(run.sessionsTarget, creds);
  const stats = new sessionsV1.SessionStatisticsTableClient(run.statsTarget, creds);
  const concurrency = run.concurrency ?? 1;
  const nextTuple = tupleFactory(run.seed ?? 1);
  const result: LoadResult = {
    scenario: run.scenario,
    concurrency,
    ops: 0,
    seconds: 0,
    ops_per_s: 0,
    latency_us: { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 },
    grpc_status: {},
    request_status: {},
    errors: 0,
    ok: true,
    driver: "node-loadgen",
  };
  const add: Unary<sessionsV1.sessionRequest> = (r, cb) => sessions.addSession(r, cb);
  try {
    let ids: bigint[] = [];
    const prefill = run.prefill ?? (run.scenario === "get" || run.scenario === "delete" ? run.n : 0);
    if (prefill > 0) {
      const scratch = { ...result, grpc_status: {}, request_status: {} };
      const collect: Unary<sessionsV1.sessionRequest> = (r, cb) =>
        sessions.addSession(r, (err, res) => {
          if (res) ids.push(res.sessionId);
          cb(err, res);
        });
      await drive(prefill, 64, collect, nextTuple, scratch);
    }
    const t0 = process.hrtime.bigint();
    let latencies: number[] = [];
    if (run.scenario === "add") {
      latencies = await drive(run.n, concurrency, add, nextTuple, result);
      result.ops = run.n;
    } else if (run.scenario === "get" || run.scenario === "delete") {
      const rand = rng((run.seed ?? 1) + 7);
      const pick =
        run.scenario === "get"
          ? () => ({ sessionId: ids[Math.floor(rand() * ids.length)]! })
          : () => ({ sessionId: ids.pop() ?? 0n });
      const call: Unary<sessionsV1.sessionId> =
        run.scenario === "get" ? (r, cb) => sessions.getSession(r, cb) : (r, cb) => sessions.deleteSession(r, cb);
      latencies = await drive(run.n, concurrency, call, pick, result);
      result.ops = run.n;
    } else {
      const stream =
        run.scenario === "dump" ? stats.getAllSessions({ pageSize: 0 }) : stats.getClosedSessions({ pageSize: 0 });
      let count = 0;
      let first = 0;
      for await (const _msg of stream as AsyncIterable<sessionsV1.sessionResponse>) {
        if (count === 0) first = Number(process.hrtime.bigint() - t0) / 1000;
        count++;
      }
      result.sessions = count;
      result.ops = count;
      result.first_message_us = { p50: first };
      result.grpc_status.OK = 1;
    }
    ids = [];
    result.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    result.ops_per_s = result.ops / result.seconds;
    if (run.scenario === "dump" || run.scenario === "closed") result.sessions_per_s = result.ops_per_s;
    latencies.sort((a, b) => a - b);
    result.latency_us = {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies[latencies.length - 1] ?? 0,
      mean: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length),
    };
    if (latencies.length === 0) result.latency_us.p50 = result.seconds * 1e6;
    result.ok = result.errors === 0;
    return result;
  } finally {
    sessions.close();
    stats.close();
  }
}

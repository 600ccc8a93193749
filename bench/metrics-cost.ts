/**
 * What counting costs on the hot path: addSession at 16 in flight (the C++
 * offload-loadgen, bench/peers) against the reference server over the memory
 * switch, without and with --metrics-port, alternating A, B, A, B, ... in one
 * sitting; prints each run, the medians and their ratio. Then, in process,
 * the gRPC metrics' own cost per call (the CallObserver the transport
 * calls) and the counting switch decorator's cost per add. Server pinned to
 * core 0, load to core 1.
 *
 *   npx tsx bench/metrics-cost.ts [--rounds N] [--n N] [--peers-build DIR]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { createMemorySwitch } from "../packages/switch-backend/src";
import { createObservedBackend, createRpcMetrics, createTableMetrics } from "../packages/reference-server/src/metrics";
import { loadgenPath, runCppLoadgen } from "./lib/cpp-loadgen";
import { median } from "./lib/loadgen-result";
import { pinned, startServer } from "./lib/processes";
import { parseReferencePorts, referenceServerArgs } from "./lib/reference-server";
import { numberFlag, parseCliOrExit, UsageError } from "../examples/support/cli";

const opts = parseCliOrExit(
  {
    name: "metrics-cost",
    help: `usage: npx tsx bench/metrics-cost.ts [options]
  --rounds N             A/B pairs (default 5)
  --n N                  timed adds per run (default 100000)
  --peers-build DIR      build folder of bench/peers (default $PEERS_BUILD or bench/.peers-build)
  --in-process           only the in-process figures (no servers, no load generator)`,
    options: {
      "in-process": { type: "boolean", default: false },
      rounds: { type: "string", default: "5" },
      n: { type: "string", default: "100000" },
      "peers-build": { type: "string", default: process.env.PEERS_BUILD ?? join(__dirname, ".peers-build") },
    },
  },
  ({ values }) => {
    const loadgen = loadgenPath(values["peers-build"] ?? "");
    if (loadgen === undefined && !values["in-process"]) {
      throw new UsageError(`--peers-build: no offload-loadgen in ${values["peers-build"]}/bin`);
    }
    return {
      loadgen: loadgen ?? "",
      inProcessOnly: values["in-process"] === true,
      rounds: numberFlag("--rounds", values.rounds, { min: 1, max: 100, integer: true }) as number,
      n: numberFlag("--n", values.n, { min: 1000, max: 10_000_000, integer: true }) as number,
    };
  },
);

async function addRate(withMetrics: boolean): Promise<number> {
  const scratch = mkdtempSync(join(tmpdir(), "metrics-cost-"));
  const extra = withMetrics ? ["--metrics-port", "0"] : [];
  const [cmd, args] = pinned(0, process.execPath, referenceServerArgs("memory", scratch, extra));
  const server = await startServer(withMetrics ? "metrics on" : "metrics off", cmd, args, parseReferencePorts);
  try {
    const result = await runCppLoadgen(opts.loadgen, {
      scenario: "add",
      target: server.sessionsTarget,
      n: opts.n,
      concurrency: 16,
      warmup: 5000,
    });
    return result.ops_per_s;
  } finally {
    await server.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

// The CallObserver's cost per unary call: started, one message each way, ended with a time.
function observerNsPerCall(): number {
  const rpc = createRpcMetrics();
  const call = { service: "sessions.v1.SessionTable", method: "addSession", type: "unary" } as const;
  const run = (n: number): void => {
    for (let i = 0; i < n; i += 1) {
      const t = rpc.callStarted(call);
      t.messageReceived();
      t.messageSent();
      t.ended(0);
    }
  };
  run(200_000);
  const samples: number[] = [];
  for (let r = 0; r < 5; r += 1) {
    const start = process.hrtime.bigint();
    run(1_000_000);
    samples.push(Number(process.hrtime.bigint() - start) / 1_000_000);
  }
  return median(samples);
}

// The counting switch decorator's cost per accepted add, in process: the memory switch bare and observed,
// alternating, 9 runs of each.
function decoratorNsPerAdd(): { bare: number; observed: number } {
  const spec = (i: number) => ({
    inLif: "",
    outLif: "",
    ipVersion: "ipv4" as const,
    sourceIp: Uint8Array.of(10, (i >> 16) & 255, (i >> 8) & 255, i & 255),
    sourcePort: 1024,
    destinationIp: Uint8Array.of(192, 0, 2, 1),
    destinationPort: 443,
    protocol: "tcp" as const,
    action: "forward" as const,
    nextHop: "",
  });
  const specs = Array.from({ length: 200_000 }, (_, i) => spec(i));
  const run = (observe: boolean): number => {
    const inner = createMemorySwitch({ capacity: 200_000, traffic: false, tickIntervalMs: 0 });
    const sw = observe ? createObservedBackend(inner, createTableMetrics(new Registry(), { backend: inner })) : inner;
    const start = process.hrtime.bigint();
    for (const s of specs) sw.add(s);
    const ns = Number(process.hrtime.bigint() - start) / specs.length;
    inner.close();
    return ns;
  };
  run(false);
  run(true);
  const bare: number[] = [];
  const observed: number[] = [];
  for (let r = 0; r < 9; r += 1) {
    bare.push(run(false));
    observed.push(run(true));
  }
  return { bare: median(bare), observed: median(observed) };
}

async function main(): Promise<void> {
  const off: number[] = [];
  const on: number[] = [];
  for (let round = 1; round <= (opts.inProcessOnly ? 0 : opts.rounds); round += 1) {
    // Alternate which goes first, so that a drift in the machine's load favours neither.
    const order = round % 2 === 1 ? [false, true] : [true, false];
    for (const withMetrics of order) {
      const rate = await addRate(withMetrics);
      (withMetrics ? on : off).push(rate);
      process.stdout.write(`round ${round}  metrics ${withMetrics ? "on " : "off"}  ${rate.toFixed(0)} adds/s\n`);
    }
  }
  if (!opts.inProcessOnly) {
    const a = median(off);
    const b = median(on);
    process.stdout.write(
      `addSession c=16, memory switch, n=${opts.n}, ${opts.rounds} rounds: median without metrics ${a.toFixed(0)}/s, ` +
        `with --metrics-port ${b.toFixed(0)}/s, ratio ${(b / a).toFixed(3)}\n`,
    );
  }
  process.stdout.write(
    `gRPC metrics (CallObserver) per unary call, in process: ${observerNsPerCall().toFixed(0)} ns\n`,
  );
  const { bare, observed } = decoratorNsPerAdd();
  process.stdout.write(
    `memory switch add in process: ${bare.toFixed(0)} ns bare, ${observed.toFixed(0)} ns counted ` +
      `(+${(observed - bare).toFixed(0)} ns)\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`metrics-cost: error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

/**
 * `npm run bench`: starts the reference server on each backend (memory,
 * sqlite, and nftables (the kernel switch) where root), drives it over real gRPC, and writes a
 * table (stdout and results/latest.md), the raw results (results/latest.json)
 * and a chart (results/latest.svg). With the peers of bench/peers
 * built, the C++ offload-loadgen drives every run and the C++ and Python peer
 * servers are measured in the same sitting; otherwise a Node driver runs and
 * the peers are skipped. Server pinned to core 0, load to core 1.
 *
 * With h2load (Debian nghttp2-client) on the PATH, getSession is also
 * driven by h2load, 16 streams on one connection, against our server, the
 * C++ peer and nghttpd serving a static file of an answer's size (nghttp2's
 * own C server doing no work: the ceiling). `--speed` runs only the rows the
 * transport's speed is judged by, in one sitting: those, and addSession
 * c=16 from the C++ loadgen against ours and the C++ peer. `--openoffload`
 * runs only the second generation's rows (memory switch, both transports).
 *
 *   npx tsx bench/run.ts [--quick] [--speed | --openoffload] [--backends memory,sqlite,nftables] [--no-peers] [--no-peer-servers]
 *                        [--reps N] [--out DIR]
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { basename, join, resolve } from "node:path";
import { renderBarChart } from "./lib/chart";
import { loadgenPath, runCppLoadgen } from "./lib/cpp-loadgen";
import { median, type LoadResult } from "./lib/loadgen-result";
import { runNodeLoadgen } from "./lib/node-loadgen";
import { ooH2loadPath, ooLoadgenPath, runOoLoadgen } from "./lib/oo-loadgen";
import { cpuMicrosOf, memoryOf, pinned, startServer, type RunningServer } from "./lib/processes";
import { parseReferencePorts, referenceServerArgs } from "./lib/reference-server";
import { h2loadArgs, h2loadFiles, runH2load, startNghttpd, which } from "./lib/h2load";
import { numberFlag, parseCliOrExit, UsageError } from "../examples/support/cli";

const opts = parseCliOrExit(
  {
    name: "bench",
    help: `usage: npx tsx bench/run.ts [options]   (npm run bench)
  --quick                small sizes, one repetition (a smoke run)
  --speed                only the speed rows, in one sitting: h2load getSession (ours, C++ peer, nghttpd)
                         and addSession c=16 (ours, C++ peer)
  --openoffload          only the openoffload.v1 rows (batched adds, paging) on the memory switch, both transports
  --backends LIST        comma-separated: memory, sqlite, nftables (default: all this machine can run)
  --no-peers             skip the C++ load generator and the peer servers (a Node driver runs instead)
  --no-peer-servers      keep the C++ load generator, skip the C++ and Python peer servers (e.g. the kernel rows alone)
  --reps N               repetitions of each measurement (default 3, --quick 1)
  --out DIR              where results/latest.* go (default bench/results)
  --peers-build DIR      build folder of bench/peers (default $PEERS_BUILD or bench/.peers-build)`,
    options: {
      quick: { type: "boolean", default: false },
      speed: { type: "boolean", default: false },
      openoffload: { type: "boolean", default: false },
      backends: { type: "string" },
      peers: { type: "boolean", default: true },
      "no-peers": { type: "boolean", default: false },
      "no-peer-servers": { type: "boolean", default: false },
      reps: { type: "string" },
      out: { type: "string", default: join(__dirname, "results") },
      "peers-build": { type: "string", default: process.env.PEERS_BUILD ?? join(__dirname, ".peers-build") },
    },
  },
  ({ values }) => {
    const known = ["memory", "sqlite", "nftables"];
    for (const b of (values.backends ?? "memory").split(",")) {
      if (!known.includes(b))
        throw new UsageError(`--backends: unknown backend "${b}"; choose from ${known.join(", ")}`);
    }
    numberFlag("--reps", values.reps, { min: 1, max: 100, integer: true });
    return values;
  },
);

const quick = opts.quick ?? false;
const isRoot = process.getuid?.() === 0;
const backends = (opts.backends ?? (isRoot ? "memory,sqlite,nftables" : "memory,sqlite")).split(",");
const reps = Number(opts.reps ?? (quick ? 1 : 3));
const outDir = resolve(opts.out ?? "bench/results");
const peersSrc = resolve(__dirname, "peers");
const peersBuild = resolve(opts["peers-build"]!);
const SIZES = quick
  ? {
      unaryN: 500,
      unaryN1: 200,
      prefill: 500,
      dumpSmall: 1000,
      dumpLarge: 2000,
      closed: 500,
      warmup: 50,
      ooAdd: 2000,
      ooPage: 2000,
      h2loadN: 5000,
    }
  : {
      unaryN: 100_000,
      unaryN1: 30_000,
      prefill: 100_000,
      dumpSmall: 100_000,
      dumpLarge: 1_000_000,
      closed: 100_000,
      warmup: 2000,
      ooAdd: 300_000,
      ooPage: 1_000_000,
      h2loadN: 300_000,
    };

/** One row of the report. */
interface Row {
  server: string;
  backend: string;
  scenario: string;
  concurrency: number;
  n: number;
  opsPerS: number;
  p50us: number;
  p99us: number;
  runs: number;
  driver: string;
  notes: string;
  raw: LoadResult[];
}

const rows: Row[] = [];
const memory: {
  server: string;
  backend: string;
  sessions: number;
  idleMiB: number;
  rssMiB: number;
  hwmMiB: number;
  bytesPerSession: number;
}[] = [];
const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

function preparePeers(): string | undefined {
  if (opts["no-peers"] || !opts.peers) return undefined;
  const built = ooLoadgenPath(peersBuild) === undefined ? undefined : loadgenPath(peersBuild);
  if (built) return built;
  if (!existsSync(join(peersSrc, "build.sh"))) {
    log(`no peers at ${peersSrc}: using the Node driver, peers skipped`);
    return undefined;
  }
  log(`building the peers into ${peersBuild} (about a minute)`);
  try {
    execFileSync("bash", [join(peersSrc, "build.sh")], {
      env: { ...process.env, PEERS_BUILD: peersBuild },
      stdio: ["ignore", "ignore", "inherit"],
    });
  } catch (err) {
    log(`peers build failed (${(err as Error).message.split("\n")[0]}): using the Node driver, peers skipped`);
    return undefined;
  }
  return loadgenPath(peersBuild);
}

const loadgen = preparePeers();
const driverName = loadgen ? "offload-loadgen (C++)" : "node-loadgen";

type Scenario = "add" | "get" | "delete" | "dump" | "closed";

async function measure(
  server: RunningServer,
  scenario: Scenario,
  n: number,
  concurrency: number,
  extra: { prefill?: number; warmup?: number; seed?: number } = {},
): Promise<LoadResult> {
  const pid = server.child.pid;
  const before = pid === undefined ? undefined : cpuMicrosOf(pid);
  const result = await runLoad(server, scenario, n, concurrency, extra);
  if (pid !== undefined && before !== undefined) {
    const streamed = scenario === "dump" || scenario === "closed";
    const calls = streamed ? (result.sessions ?? result.ops) : result.ops + (extra.warmup ?? 0) + (extra.prefill ?? 0);
    result.server_cpu_us_per_call = (cpuMicrosOf(pid) - before) / Math.max(1, calls);
  }
  return result;
}

function runLoad(
  server: RunningServer,
  scenario: Scenario,
  n: number,
  concurrency: number,
  extra: { prefill?: number; warmup?: number; seed?: number },
): Promise<LoadResult> {
  const target = scenario === "dump" || scenario === "closed" ? server.statsTarget : server.sessionsTarget;
  if (loadgen) {
    return runCppLoadgen(loadgen, {
      scenario,
      target,
      n: scenario === "dump" || scenario === "closed" ? 1 : n,
      concurrency,
      warmup: extra.warmup,
      prefill: extra.prefill,
      seed: extra.seed,
      extra: scenario === "dump" || scenario === "closed" ? ["--stream-deadline-ms", "600000"] : [],
    });
  }
  return runNodeLoadgen({
    scenario,
    sessionsTarget: server.sessionsTarget,
    statsTarget: server.statsTarget,
    n,
    concurrency,
    prefill: extra.prefill,
    seed: extra.seed,
  });
}

/** Fills a server's table with `n` sessions (untimed for the report, but returned). */
function fill(server: RunningServer, n: number, seed: number): Promise<LoadResult> {
  return measure(server, "add", n, 64, { seed });
}

interface ServerKind {
  name: string;
  backend: string;
  start(extraArgs?: readonly string[]): Promise<RunningServer>;
}

/** Our reference server on `backend`; `name` and `serverArgs` for a variant (e.g. the grpc-js transport). */
function ourServer(backend: string, name = "ts", serverArgs: readonly string[] = []): ServerKind {
  return {
    name,
    backend,
    async start(extraArgs = []) {
      const scratch = mkdtempSync(join(tmpdir(), "offload-bench-"));
      // The kernel switch gets a namespace of its own, removed afterwards.
      const netns = backend === "nftables" ? `offload-bench-${process.pid}-${Date.now() % 100000}` : undefined;
      if (netns) execFileSync("ip", ["netns", "add", netns]);
      const cleanup = () => {
        rmSync(scratch, { recursive: true, force: true });
        if (netns) execFileSync("ip", ["netns", "del", netns]);
      };
      try {
        const args = referenceServerArgs(backend, scratch, [
          ...(netns ? ["--netns", netns] : []),
          ...serverArgs,
          ...extraArgs,
        ]);
        const [cmd, cmdArgs] = pinned(0, process.execPath, args);
        const server = await startServer(`ts/${backend}`, cmd, cmdArgs, parseReferencePorts);
        return {
          ...server,
          stop: async () => {
            await server.stop();
            cleanup();
          },
        };
      } catch (err) {
        cleanup();
        throw err;
      }
    },
  };
}

function peerServer(name: "cpp" | "py"): ServerKind {
  const bin = join(peersBuild, "bin", name === "cpp" ? "offload-cpp-server" : "offload-py-server");
  return {
    name,
    backend: "memory",
    async start(extraArgs = []) {
      const [cmd, cmdArgs] = pinned(0, bin, ["--address", "127.0.0.1:0", "--max-sessions", "2000000", ...extraArgs]);
      return startServer(name, cmd, cmdArgs, (output) => {
        const port = /listening on [^\s]*:(\d+)/.exec(output)?.[1];
        return port ? { sessions: Number(port), stats: Number(port) } : undefined;
      });
    },
  };
}

async function withServer<T>(
  kind: ServerKind,
  fn: (s: RunningServer) => Promise<T>,
  extraArgs?: readonly string[],
): Promise<T> {
  const server = await kind.start(extraArgs);
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

/**
 * Failed calls of a data point, by gRPC status. INVALID_ARGUMENT is named on
 * its own: the loadgen draws random ports including 0, which our server
 * refuses (API.md) and the peers accept.
 */
function errorNote(results: readonly LoadResult[]): string {
  const counts = new Map<string, number>();
  for (const r of results) {
    for (const [code, n] of Object.entries(r.grpc_status))
      if (code !== "OK") counts.set(code, (counts.get(code) ?? 0) + n);
  }
  return [...counts].map(([code, n]) => ` ${n} ${code}${code === "INVALID_ARGUMENT" ? " (port 0)" : ""}`).join(",");
}

/**
 * The server's CPU time per call (median of the runs; streams: per session sent), prefill and warmup calls
 * included: what the other work on a shared machine disturbs far less than calls/s.
 */
function cpuNote(results: readonly LoadResult[]): string {
  const per = results.flatMap((r) => (r.server_cpu_us_per_call === undefined ? [] : [r.server_cpu_us_per_call]));
  return per.length === 0 ? "" : `server CPU ${median(per).toFixed(1)} µs/call`;
}

function record(
  kind: ServerKind,
  scenario: string,
  concurrency: number,
  n: number,
  results: LoadResult[],
  notes = "",
): Row {
  const rate = (r: LoadResult) => r.sessions_per_s ?? r.ops_per_s;
  const row: Row = {
    server: kind.name,
    backend: kind.backend,
    scenario,
    concurrency,
    n,
    opsPerS: median(results.map(rate)),
    p50us: median(results.map((r) => r.latency_us.p50)),
    p99us: median(results.map((r) => r.latency_us.p99)),
    runs: results.length,
    driver: results[0]?.driver ?? driverName,
    notes: [notes, errorNote(results).trim(), notes.includes("server CPU") ? "" : cpuNote(results)]
      .filter((part) => part !== "")
      .join("; "),
    raw: results,
  };
  rows.push(row);
  log(
    `${kind.name}/${kind.backend} ${scenario} c=${concurrency}: ${Math.round(row.opsPerS)}/s p50 ${row.p50us}us p99 ${row.p99us}us`,
  );
  return row;
}

async function unary(
  kind: ServerKind,
  scenario: "add" | "get" | "delete",
  concurrencies: readonly number[],
  repsHere: number,
  fixedN?: number,
) {
  for (const c of concurrencies) {
    const n = fixedN ?? (c === 1 ? SIZES.unaryN1 : SIZES.unaryN);
    const results: LoadResult[] = [];
    for (let r = 0; r < repsHere; r++) {
      results.push(
        await withServer(kind, (s) =>
          measure(s, scenario, n, c, {
            warmup: fixedN === undefined ? SIZES.warmup : Math.min(SIZES.warmup, fixedN / 10),
            seed: 100 + r,
            prefill:
              scenario === "get" ? (fixedN ?? SIZES.prefill) : scenario === "delete" ? n + SIZES.warmup : undefined,
          }),
        ),
      );
    }
    record(kind, scenario, c, n, results);
  }
}

async function dumpAndMemory(kind: ServerKind, sizes: readonly number[]) {
  for (const size of sizes) {
    const results: LoadResult[] = [];
    for (let r = 0; r < (size >= 1_000_000 ? 1 : reps); r++) {
      results.push(
        await withServer(kind, async (s) => {
          await new Promise((res) => setTimeout(res, 500));
          const idle = memoryOf(s.child.pid!);
          await fill(s, size, 400 + r);
          const afterFill = memoryOf(s.child.pid!);
          const dump = await measure(s, "dump", size, 1);
          const afterDump = memoryOf(s.child.pid!);
          memory.push({
            server: kind.name,
            backend: kind.backend,
            sessions: size,
            idleMiB: idle.rssMiB,
            rssMiB: afterFill.rssMiB,
            hwmMiB: afterDump.hwmMiB,
            bytesPerSession: ((afterFill.rssMiB - idle.rssMiB) * 1048576) / size,
          });
          return dump;
        }),
      );
    }
    record(kind, `dump ${size.toLocaleString("en-US")}`, 1, size, results, "sessions/s streamed");
  }
}

async function closed(kind: ServerKind) {
  const results: LoadResult[] = [];
  for (let r = 0; r < reps; r++) {
    const extra = kind.name === "ts" ? ["--tcp-idle-timeout", "1", "--traffic", "off"] : ["--close-after-s", "1"];
    results.push(
      await withServer(
        kind,
        async (s) => {
          await fill(s, SIZES.closed, 500 + r);
          await new Promise((res) => setTimeout(res, 2500));
          return measure(s, "closed", SIZES.closed, 1);
        },
        extra,
      ),
    );
  }
  record(kind, "closed", 1, SIZES.closed, results, "closed sessions/s delivered");
}

/**
 * The second generation (openoffload.v1) on the memory switch: batched adds
 * (streams of 64 sessions, as the reference client sends) and getAllSessions
 * paged through a million sessions. The adds are driven by offload-oo-h2load
 * (C on libnghttp2, one connection) where it was built: the gRPC C++ client
 * of offload-oo-loadgen costs about as much CPU per session as the server, so
 * pinned to one core it cannot offer the load the server could take. One row
 * from offload-oo-loadgen stays as a cross-check by a real gRPC client stack;
 * the paging rows are offload-oo-loadgen's. Each run on a fresh server.
 */
async function openoffload(kind: ServerKind) {
  const oo = ooLoadgenPath(peersBuild);
  if (oo === undefined) {
    log("no offload-oo-loadgen: openoffload rows skipped");
    return;
  }
  const h2 = ooH2loadPath(peersBuild);
  if (h2 === undefined) log("no offload-oo-h2load (needs libnghttp2-dev): batched adds driven by offload-oo-loadgen");
  const adds: { driver: string; c: number; scenario: string; extra?: string[] }[] = [
    { driver: h2 ?? oo, c: 1, scenario: "oo add (batches of 64)" },
    { driver: h2 ?? oo, c: 4, scenario: "oo add (batches of 64)" },
  ];
  if (h2 !== undefined) {
    // How the client writes the stream matters to the server: a TCP segment per session, as the gRPC C++ client
    // sends them, costs it about twice the CPU of a batch packed in a few writes.
    adds.push(
      { driver: h2, c: 4, scenario: "oo add (batches of 64), a write per session", extra: ["--frame-per-message"] },
      { driver: oo, c: 4, scenario: "oo add (batches of 64), gRPC C++ client" },
    );
  }
  for (const { driver, c, scenario, extra } of adds) {
    const results: LoadResult[] = [];
    for (let r = 0; r < reps; r++) {
      results.push(
        await withServer(kind, (s) =>
          withServerCpu(
            s.child.pid,
            () =>
              runOoLoadgen(driver, {
                scenario: "add",
                target: s.sessionsTarget,
                n: SIZES.ooAdd,
                concurrency: c,
                batch: 64,
                extra,
              }),
            (result) => result.sessions ?? result.ops,
          ),
        ),
      );
    }
    record(
      kind,
      scenario,
      c,
      SIZES.ooAdd,
      results,
      [`sessions/s added by ${basename(driver)}`, perSessionCpuNote(results)].filter(Boolean).join("; "),
    );
  }
  for (const pageSize of [64, 1024]) {
    const results: LoadResult[] = [];
    for (let r = 0; r < (SIZES.ooPage >= 1_000_000 ? 1 : reps); r++) {
      results.push(
        await withServer(kind, (s) =>
          runOoLoadgen(oo, { scenario: "page", target: s.sessionsTarget, prefill: SIZES.ooPage, pageSize }),
        ),
      );
    }
    record(
      kind,
      `oo page ${SIZES.ooPage.toLocaleString("en-US")} (pageSize ${pageSize})`,
      1,
      SIZES.ooPage,
      results,
      "sessions/s paged",
    );
  }
}

/** The pseudo server kind of nghttpd's rows. */
const NGHTTPD: ServerKind = {
  name: "nghttpd",
  backend: "static file",
  start: () => Promise.reject(new Error("nghttpd is started by h2loadRows")),
};

/** The h2load command of the report (target and body file vary by run). */
const h2loadCommand = (): string =>
  `taskset -c 1 h2load ${h2loadArgs({ target: "HOST:PORT", n: SIZES.h2loadN, streams: 16, body: "BODY" })
    .map((arg) => (arg.includes(" ") ? `'${arg}'` : arg))
    .join(" ")}`;

/**
 * getSession from h2load, 16 streams on one connection, against each of
 * `kinds` (after 1,000 adds, asking for session 1) and nghttpd serving a file
 * of an answer's size, interleaved rep by rep (ours, peers, nghttpd) so that
 * the machine's drift spreads over all of them. Each run follows a warm-up
 * run of a tenth of the calls on the same server.
 */
async function h2loadRows(kinds: readonly ServerKind[]) {
  if (which("h2load") === undefined) {
    log("no h2load (Debian nghttp2-client): h2load rows skipped");
    return;
  }
  const files = h2loadFiles(1n);
  const n = SIZES.h2loadN;
  const warm = Math.max(100, Math.round(n / 10));
  const results = new Map<ServerKind, LoadResult[]>();
  const push = (kind: ServerKind, result: LoadResult) => results.set(kind, [...(results.get(kind) ?? []), result]);
  try {
    for (let r = 0; r < reps; r++) {
      for (const kind of kinds) {
        push(
          kind,
          await withServer(kind, async (s) => {
            await fill(s, 1000, 700 + r);
            await runH2load({ target: s.sessionsTarget, n: warm, streams: 16, body: files.body });
            return withServerCpu(s.child.pid, () =>
              runH2load({ target: s.sessionsTarget, n, streams: 16, body: files.body }),
            );
          }),
        );
      }
      if (which("nghttpd") === undefined) continue;
      const nghttpd = await startNghttpd(files.docroot);
      try {
        await runH2load({ target: nghttpd.target, n: warm, streams: 16, body: files.body });
        push(
          NGHTTPD,
          await withServerCpu(nghttpd.child.pid, () =>
            runH2load({ target: nghttpd.target, n, streams: 16, body: files.body }),
          ),
        );
      } finally {
        await nghttpd.stop();
      }
    }
  } finally {
    files.remove();
  }
  for (const [kind, runs] of results) {
    const cpu = median(runs.map((r) => r.server_cpu_us_per_call ?? 0));
    record(
      kind,
      "h2load getSession",
      16,
      n,
      runs,
      `h2load -c 1 -m 16, p50 column = mean; server CPU ${cpu.toFixed(1)} µs/call`,
    );
  }
}

/**
 * Runs `run` and adds the server's CPU time per call during it (user +
 * system of all its threads, from /proc): a measure that the machine's other
 * load disturbs far less than calls per second. `units` counts what the time
 * is divided by (default the calls; e.g. the sessions of batched adds).
 */
async function withServerCpu(
  pid: number | undefined,
  run: () => Promise<LoadResult>,
  units: (result: LoadResult) => number = (result) => result.ops,
): Promise<LoadResult> {
  if (pid === undefined) return run();
  const before = cpuMicrosOf(pid);
  const result = await run();
  return { ...result, server_cpu_us_per_call: (cpuMicrosOf(pid) - before) / Math.max(1, units(result)) };
}

/** Server and driver CPU time per session of batched adds (medians of the runs), for a row's notes. */
function perSessionCpuNote(results: readonly LoadResult[]): string {
  const server = results.flatMap((r) => (r.server_cpu_us_per_call === undefined ? [] : [r.server_cpu_us_per_call]));
  const driver = results.flatMap((r) =>
    r.driver_cpu_us_per_session === undefined ? [] : [r.driver_cpu_us_per_session],
  );
  return [
    server.length === 0 ? "" : `server CPU ${median(server).toFixed(2)} µs/session`,
    driver.length === 0 ? "" : `driver CPU ${median(driver).toFixed(2)} µs/session`,
  ]
    .filter((part) => part !== "")
    .join(", ");
}

async function main() {
  mkdirSync(outDir, { recursive: true });
  const started = new Date();
  const peers: ServerKind[] = loadgen && !opts["no-peer-servers"] ? [peerServer("cpp"), peerServer("py")] : [];
  const dumpSizes = [SIZES.dumpSmall, SIZES.dumpLarge];
  if (opts.speed) {
    const ts = ourServer("memory");
    const cpp = loadgen ? [peerServer("cpp")] : [];
    await h2loadRows([ts, ...cpp]);
    for (const kind of [ts, ...cpp]) await unary(kind, "add", [16], reps);
    writeReports(started);
    return;
  }
  if (opts.openoffload) {
    await openoffload(ourServer("memory"));
    await openoffload(ourServer("memory", "ts-grpc-js", ["--transport", "grpc-js"]));
    writeReports(started);
    return;
  }

  for (const backend of backends) {
    const kind = ourServer(backend);
    if (backend === "nftables") {
      // The kernel switch (conntrack over netlink in process): the targets at 100,000 sessions (a
      // namespace's conntrack table is capped by the host's nf_conntrack_max; docs/KERNEL.md).
      await unary(kind, "add", [1, 16, 64], reps);
      await unary(kind, "get", [16], reps);
      await unary(kind, "delete", [16], reps);
      await dumpAndMemory(kind, [SIZES.dumpSmall]);
      continue;
    }
    await unary(kind, "add", [1, 16, 64], reps);
    await unary(kind, "get", [1, 16, 64], reps);
    await unary(kind, "delete", [16], reps);
    // A million durable adds take minutes: the sqlite table is measured at the smaller size.
    await dumpAndMemory(kind, backend === "sqlite" ? [SIZES.dumpSmall] : dumpSizes);
    await closed(kind);
    if (backend === "memory") {
      // The same server on grpc-js's transport: what the native HTTP/2 transport buys.
      await unary(ourServer(backend, "ts-grpc-js", ["--transport", "grpc-js"]), "add", [16], reps);
      // The second generation on both transports, in one sitting (the native one serves addSession itself).
      await openoffload(kind);
      await openoffload(ourServer(backend, "ts-grpc-js", ["--transport", "grpc-js"]));
    }
  }
  for (const peer of peers) {
    await unary(peer, "add", [1, 16, 64], reps);
    await unary(peer, "get", [16], reps);
    await dumpAndMemory(peer, dumpSizes);
  }
  if (backends.includes("memory")) await h2loadRows([ourServer("memory"), ...peers.filter((p) => p.name === "cpp")]);
  writeReports(started);
}

function writeReports(started: Date) {
  const report = renderReport(started);
  writeFileSync(join(outDir, "latest.md"), report);
  writeFileSync(
    join(outDir, "latest.json"),
    JSON.stringify({ started, machine: machineInfo(), driver: driverName, quick, rows, memory }, null, 2),
  );
  writeFileSync(join(outDir, "latest.svg"), renderChart());
  process.stdout.write(report);
  log(`wrote ${join(outDir, "latest.md")}, latest.json and latest.svg`);
}

function machineInfo() {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}

function find(server: string, backend: string, scenario: string, c: number): Row | undefined {
  return rows.find(
    (r) => r.server === server && r.backend === backend && r.scenario === scenario && r.concurrency === c,
  );
}

function renderReport(started: Date): string {
  const n = (v: number) => Math.round(v).toLocaleString("en-US");
  const lines = [
    `# Benchmark results`,
    ``,
    `${started.toISOString()} · ${machineInfo().cpus} cores (${machineInfo().cpuModel}) · ${machineInfo().memGiB} GiB · Node ${process.version} · driver: ${driverName}${quick ? " · QUICK (tiny sizes, not figures)" : ""}`,
    ``,
    `| server | backend | scenario | concurrency | n | ops/s (median) | p50 µs | p99 µs | runs | notes |`,
    `|---|---|---|---:|---:|---:|---:|---:|---:|---|`,
    ...rows.map(
      (r) =>
        `| ${r.server} | ${r.backend} | ${r.scenario} | ${r.concurrency} | ${n(r.n)} | ${n(r.opsPerS)} | ${n(r.p50us)} | ${r.driver === "h2load" ? "–" : n(r.p99us)} | ${r.runs} | ${r.notes} |`,
    ),
    ``,
    `| server | backend | sessions | idle RSS MiB | RSS after fill MiB | HWM after dump MiB | bytes/session |`,
    `|---|---|---:|---:|---:|---:|---:|`,
    ...memory.map(
      (m) =>
        `| ${m.server} | ${m.backend} | ${n(m.sessions)} | ${m.idleMiB.toFixed(1)} | ${m.rssMiB.toFixed(1)} | ${m.hwmMiB.toFixed(1)} | ${n(m.bytesPerSession)} |`,
    ),
    ``,
  ];
  const h2ts = find("ts", "memory", "h2load getSession", 16);
  const h2cpp = find("cpp", "memory", "h2load getSession", 16);
  const h2ng = find("nghttpd", "static file", "h2load getSession", 16);
  if (h2ts && (h2cpp || h2ng)) {
    lines.push(`## h2load getSession, 16 streams on one connection (same sitting)`, ``, `    ${h2loadCommand()}`, ``);
    if (h2cpp) lines.push(`- ts/cpp: ${(h2ts.opsPerS / h2cpp.opsPerS).toFixed(2)}x (goal >= 1.5x)`);
    if (h2ng) lines.push(`- ts/nghttpd: ${(h2ts.opsPerS / h2ng.opsPerS).toFixed(2)}x (goal >= 0.6x)`);
    const cpu = (r: Row) => median(r.raw.map((x) => x.server_cpu_us_per_call ?? 0)).toFixed(1);
    lines.push(
      `- server CPU per call (user + system, all threads, median of runs): ts ${cpu(h2ts)} µs` +
        (h2cpp ? `, cpp ${cpu(h2cpp)} µs` : "") +
        (h2ng ? `, nghttpd ${cpu(h2ng)} µs` : ""),
    );
    lines.push(``);
  }
  const ooAdds = rows.filter((r) => r.server === "ts" && r.backend === "memory" && r.scenario.startsWith("oo add"));
  if (ooAdds.length > 0) {
    lines.push(`## openoffload.v1 batched adds, native transport (goal >= 150,000 sessions/s on one server core)`, ``);
    for (const r of ooAdds) lines.push(`- ${r.scenario}, c=${r.concurrency}: ${n(r.opsPerS)} sessions/s; ${r.notes}`);
    lines.push(``);
  }
  const ts16 = find("ts", "memory", "add", 16);
  const cpp16 = find("cpp", "memory", "add", 16);
  const py16 = find("py", "memory", "add", 16);
  const dumpLabel = `dump ${SIZES.dumpLarge.toLocaleString("en-US")}`;
  const tsDump = find("ts", "memory", dumpLabel, 1);
  const cppDump = find("cpp", "memory", dumpLabel, 1);
  if (ts16 && (cpp16 || py16)) {
    lines.push(`## Ratios (same sitting)`, ``);
    if (py16) lines.push(`- addSession c=16, ts/py: ${(ts16.opsPerS / py16.opsPerS).toFixed(2)}x (goal >= 2x)`);
    if (cpp16) lines.push(`- addSession c=16, ts/cpp: ${(ts16.opsPerS / cpp16.opsPerS).toFixed(2)}x (aim 0.5x)`);
    if (tsDump && cppDump)
      lines.push(
        `- getAllSessions ${dumpLabel}, ts/cpp: ${(tsDump.opsPerS / cppDump.opsPerS).toFixed(2)}x (goal >= 1x)`,
      );
    lines.push(`- addSession c=16 p99, ts: ${n(ts16.p99us)} µs (goal < 1,500 µs)`);
    const grpcJs16 = find("ts-grpc-js", "memory", "add", 16);
    if (grpcJs16)
      lines.push(
        `- addSession c=16, native transport / grpc-js transport: ${(ts16.opsPerS / grpcJs16.opsPerS).toFixed(2)}x`,
      );
    const mem = memory.find((m) => m.server === "ts" && m.backend === "memory" && m.sessions === SIZES.dumpLarge);
    if (mem)
      lines.push(`- memory, ts at ${n(mem.sessions)} sessions: ${n(mem.bytesPerSession)} bytes/session (goal < 400)`);
    lines.push(``);
  }
  return lines.join("\n");
}

function renderChart(): string {
  const series = [...new Set(rows.map((r) => `${r.server}/${r.backend}`))];
  const groupsFor = (pred: (r: Row) => boolean, metric: (r: Row) => number) => {
    const labels = [...new Set(rows.filter(pred).map((r) => `${r.scenario} c=${r.concurrency}`))];
    return labels.map((label) => ({
      label,
      values: Object.fromEntries(
        rows
          .filter((r) => pred(r) && `${r.scenario} c=${r.concurrency}` === label)
          .map((r) => [`${r.server}/${r.backend}`, metric(r)]),
      ),
    }));
  };
  const isUnary = (r: Row) => ["add", "get", "delete"].includes(r.scenario);
  return renderBarChart(
    `sessions.v1 servers, ${new Date().toISOString().slice(0, 10)} (${driverName})`,
    [
      { title: "Unary calls", unit: "ops/s, higher is better", groups: groupsFor(isUnary, (r) => r.opsPerS) },
      {
        title: "Unary p99 latency",
        unit: "µs, lower is better",
        groups: groupsFor(isUnary, (r) => r.p99us),
        log: true,
      },
      {
        title: "Streams",
        unit: "sessions/s, higher is better",
        groups: groupsFor(
          (r) => !isUnary(r),
          (r) => r.opsPerS,
        ),
      },
      {
        title: "Memory",
        unit: "bytes per session, lower is better",
        groups: [...new Set(memory.map((m) => m.sessions))].map((s) => ({
          label: `${s.toLocaleString("en-US")} sessions`,
          values: Object.fromEntries(
            memory.filter((m) => m.sessions === s).map((m) => [`${m.server}/${m.backend}`, m.bytesPerSession]),
          ),
        })),
      },
    ],
    series,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

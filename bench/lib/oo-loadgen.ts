import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import type { LoadResult } from "./loadgen-result";
import { pinned } from "./processes";

/** Options of one openoffload.v1 driver run (offload-oo-loadgen, or offload-oo-h2load for "add"). */
export interface OoLoadgenRun {
  /** "add": batched client-streaming adds; "page": getAllSessions walked page by page (offload-oo-loadgen only). */
  scenario: "add" | "page";
  target: string;
  /** add: sessions to add. */
  n?: number;
  /** add: streams at once (threads of offload-oo-loadgen; streams on one connection of offload-oo-h2load). */
  concurrency?: number;
  /** add: sessions per stream (default 64, as the reference client). */
  batch?: number;
  /** add: the first client id. */
  firstId?: number;
  /** page: sessions added (batched, untimed) before the walk. */
  prefill?: number;
  /** page: sessions per page. */
  pageSize?: number;
  /** Further arguments (e.g. offload-oo-h2load's --frame-per-message). */
  extra?: readonly string[];
  timeoutS?: number;
}

/** Path of the C++ openoffload load generator (gRPC C++ client) in a peers build folder, if it was built. */
export function ooLoadgenPath(peersBuild: string): string | undefined {
  const p = join(peersBuild, "bin", "offload-oo-loadgen");
  return existsSync(p) ? p : undefined;
}

/**
 * Path of offload-oo-h2load in a peers build folder, if it was built: the C driver on libnghttp2 for batched adds,
 * far cheaper per session than the gRPC C++ client (it needs Debian's libnghttp2-dev to build).
 */
export function ooH2loadPath(peersBuild: string): string | undefined {
  const p = join(peersBuild, "bin", "offload-oo-h2load");
  return existsSync(p) ? p : undefined;
}

// GNU time: the driver's own CPU time (user + system), for the drivers that do not report it themselves.
const GNU_TIME = "/usr/bin/time";
const CPU_MARK = "oo-driver-cpu-s";

/**
 * Runs an openoffload driver (`binary`: offload-oo-loadgen, or offload-oo-h2load for "add") pinned to core 1 and
 * parses its JSON line. `driver_cpu_us_per_session` is the driver's own figure where it prints one, else its user +
 * system time from GNU time (when installed) per session.
 */
export function runOoLoadgen(binary: string, run: OoLoadgenRun): Promise<LoadResult> {
  const args = [run.scenario, "--target", run.target];
  if (run.n !== undefined) args.push("--n", String(run.n));
  if (run.concurrency !== undefined) args.push("--concurrency", String(run.concurrency));
  if (run.batch !== undefined) args.push("--batch", String(run.batch));
  if (run.firstId !== undefined) args.push("--first-id", String(run.firstId));
  if (run.prefill !== undefined) args.push("--prefill", String(run.prefill));
  if (run.pageSize !== undefined) args.push("--page-size", String(run.pageSize));
  args.push(...(run.extra ?? []));
  const name = basename(binary);
  const [cmd, cmdArgs] = pinned(1, binary, args);
  const timed = existsSync(GNU_TIME) ? [GNU_TIME, "-f", `${CPU_MARK} %U %S`] : [];
  return new Promise((resolve, reject) => {
    execFile(
      "timeout",
      [String(run.timeoutS ?? 600), ...timed, cmd, ...cmdArgs],
      { maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const line = stdout.split("\n").find((l) => l.startsWith("{"));
        const result = line === undefined ? undefined : (JSON.parse(line) as LoadResult & { ok?: boolean });
        if (result === undefined || err) {
          reject(new Error(`${name} ${args.join(" ")} failed: ${err?.message ?? ""}\n${stderr}`));
          return;
        }
        const cpu = new RegExp(`^${CPU_MARK} ([\\d.]+) ([\\d.]+)$`, "m").exec(stderr);
        const sessions = result.sessions ?? 0;
        const timedCpu =
          cpu === null || sessions === 0 ? undefined : ((Number(cpu[1]) + Number(cpu[2])) * 1e6) / sessions;
        resolve({ ...result, driver: name, driver_cpu_us_per_session: result.driver_cpu_us_per_session ?? timedCpu });
      },
    );
  });
}

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { LoadResult } from "./loadgen-result";
import { pinned } from "./processes";

/** Options of one offload-oo-loadgen run (the second generation, openoffload.v1). */
export interface OoLoadgenRun {
  /** "add": batched client-streaming adds; "page": getAllSessions walked page by page. */
  scenario: "add" | "page";
  target: string;
  /** add: sessions to add. */
  n?: number;
  /** add: streams at once (threads). */
  concurrency?: number;
  /** add: sessions per stream (default 64, as the reference client). */
  batch?: number;
  /** add: the first client id. */
  firstId?: number;
  /** page: sessions added (batched, untimed) before the walk. */
  prefill?: number;
  /** page: sessions per page. */
  pageSize?: number;
  timeoutS?: number;
}

/** Path of the C++ openoffload load generator in a peers build folder, if it was built. */
export function ooLoadgenPath(peersBuild: string): string | undefined {
  const p = join(peersBuild, "bin", "offload-oo-loadgen");
  return existsSync(p) ? p : undefined;
}

/** Runs offload-oo-loadgen pinned to core 1 and parses its JSON line. */
export function runOoLoadgen(binary: string, run: OoLoadgenRun): Promise<LoadResult> {
  const args = [run.scenario, "--target", run.target];
  if (run.n !== undefined) args.push("--n", String(run.n));
  if (run.concurrency !== undefined) args.push("--concurrency", String(run.concurrency));
  if (run.batch !== undefined) args.push("--batch", String(run.batch));
  if (run.firstId !== undefined) args.push("--first-id", String(run.firstId));
  if (run.prefill !== undefined) args.push("--prefill", String(run.prefill));
  if (run.pageSize !== undefined) args.push("--page-size", String(run.pageSize));
  const [cmd, cmdArgs] = pinned(1, binary, args);
  return new Promise((resolve, reject) => {
    execFile(
      "timeout",
      [String(run.timeoutS ?? 600), cmd, ...cmdArgs],
      { maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const line = stdout.split("\n").find((l) => l.startsWith("{"));
        const result = line === undefined ? undefined : (JSON.parse(line) as LoadResult & { ok?: boolean });
        if (result === undefined || err) {
          reject(new Error(`offload-oo-loadgen ${args.join(" ")} failed: ${err?.message ?? ""}\n${stderr}`));
          return;
        }
        resolve({ ...result, driver: "offload-oo-loadgen" });
      },
    );
  });
}

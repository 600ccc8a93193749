import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { LoadResult } from "./loadgen-result";
import { pinned } from "./processes";

/** Options of one offload-loadgen run. */
export interface LoadgenRun {
  scenario: "add" | "get" | "delete" | "mixed" | "dump" | "closed";
  target: string;
  n: number;
  concurrency?: number;
  warmup?: number;
  prefill?: number;
  seed?: number;
  ipv6?: boolean;
  extra?: readonly string[];
  timeoutS?: number;
}

/** Path of the C++ load generator in a peers build folder, if it was built. */
export function loadgenPath(peersBuild: string): string | undefined {
  const p = join(peersBuild, "bin", "offload-loadgen");
  return existsSync(p) ? p : undefined;
}

/** Runs offload-loadgen pinned to core 1 and parses its JSON line. */
export function runCppLoadgen(binary: string, run: LoadgenRun): Promise<LoadResult> {
  const args = [run.scenario, "--target", run.target, "--n", String(run.n)];
  if (run.concurrency) args.push("--concurrency", String(run.concurrency));
  if (run.warmup) args.push("--warmup", String(run.warmup));
  if (run.prefill !== undefined) args.push("--prefill", String(run.prefill));
  if (run.seed !== undefined) args.push("--seed", String(run.seed));
  if (run.ipv6) args.push("--ipv6");
  args.push(...(run.extra ?? []));
  const [cmd, cmdArgs] = pinned(1, binary, args);
  const timeoutS = run.timeoutS ?? 600;
  return new Promise((resolve, reject) => {
    execFile("timeout", [String(timeoutS), cmd, ...cmdArgs], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const line = stdout.split("\n").find((l) => l.startsWith("{"));
      if (!line) {
        reject(new Error(`offload-loadgen ${args.join(" ")} failed: ${err?.message ?? ""}\n${stderr}`));
        return;
      }
      resolve({ ...(JSON.parse(line) as LoadResult), driver: "offload-loadgen" });
    });
  });
}

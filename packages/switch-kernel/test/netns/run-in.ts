import { spawn } from "node:child_process";
import { join } from "node:path";

const SCRIPT = join(__dirname, "traffic.cjs");

/** A traffic process running in a namespace. */
export interface TrafficProcess {
  /** Resolves once the process printed "ready" (listeners) . */
  readonly ready: Promise<void>;
  /** The JSON line it printed when it finished. */
  readonly result: Promise<Record<string, unknown>>;
  /** Writes "go" to its standard input (modes that wait for it, such as `udp-send-on-go`). */
  go(): void;
}

/** Starts `node traffic.cjs MODE ARGS` inside namespace `ns`; it exits by itself (every mode is bounded). */
export function runTraffic(ns: string, mode: string, args: readonly (string | number)[]): TrafficProcess {
  const child = spawn("ip", ["netns", "exec", ns, process.execPath, SCRIPT, mode, ...args.map(String)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.on("data", (b: Buffer) => {
    out += b.toString("utf8");
    if (out.includes("ready\n")) onReady();
  });
  child.stderr.on("data", (b: Buffer) => (err += b.toString("utf8")));
  const result = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.on("close", (code) => {
      const last = out.trim().split("\n").pop() ?? "";
      if (code !== 0) return reject(new Error(`${mode} in ${ns} exited ${code}: ${err}`));
      try {
        resolve(JSON.parse(last) as Record<string, unknown>);
      } catch {
        reject(new Error(`${mode} in ${ns} printed no result: ${out} ${err}`));
      }
    });
  });
  result.catch(() => onReady());
  child.stdin.on("error", () => undefined);
  return { ready, result, go: () => child.stdin.write("go\n") };
}

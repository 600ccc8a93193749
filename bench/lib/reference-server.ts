import { join, resolve } from "node:path";

const CLI = resolve(__dirname, "../../packages/reference-server/dist/cli.js");

/** Arguments for `node` to run the built reference server on `backend`, plaintext, on ports chosen by the OS. */
export function referenceServerArgs(backend: string, scratch: string, extra: readonly string[]): string[] {
  // As the command's own shebang and `npm start` run it: a 4 MiB young generation
  // (shorter scavenge pauses: p99 about 7 ms -> 3 ms at concurrency 16).
  const args = [
    "--max-semi-space-size=4",
    CLI,
    "--insecure",
    "--host",
    "127.0.0.1",
    "--sessions-port",
    "0",
    "--stats-port",
    "0",
    "--max-sessions",
    backend === "nftables" ? "200000" : "2000000",
    ...(backend === "nftables" ? [] : ["--traffic", "off"]),
    "--log-level",
    "warn",
    "--backend",
    backend,
  ];
  if (backend === "sqlite") args.push("--db", join(scratch, "bench.db"));
  args.push(...extra);
  return args;
}

/** Finds the bound ports in the reference server's "listening" lines. */
export function parseReferencePorts(output: string): { sessions: number; stats: number } | undefined {
  const sessions = /sessions\S*\s.*?:(\d+)\b/i.exec(output)?.[1];
  const stats = /stat\S*\s.*?:(\d+)\b/i.exec(output)?.[1];
  return sessions && stats ? { sessions: Number(sessions), stats: Number(stats) } : undefined;
}

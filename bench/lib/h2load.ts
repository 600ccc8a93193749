import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sessionsV1 } from "@sessionoffload/offload-api";
import type { LoadResult } from "./loadgen-result";
import { pinned, stopProcess } from "./processes";

/** The gRPC path h2load calls. */
export const GET_SESSION_PATH = sessionsV1.SessionTableService.getSession.path;

/** Path of a program on $PATH, or undefined. */
export function which(program: string): string | undefined {
  try {
    return execFileSync("sh", ["-c", `command -v ${program}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A scratch folder with the request body h2load posts: one framed getSession request for `sessionId`. */
export interface H2loadFiles {
  /** The body file (5-byte gRPC prefix + sessionId message). */
  readonly body: string;
  /** nghttpd's document root: a file at the getSession path, as long as a getSession answer. */
  readonly docroot: string;
  remove(): void;
}

/** Writes the request body and nghttpd's static answer into a new scratch folder. */
export function h2loadFiles(sessionId: bigint): H2loadFiles {
  const dir = mkdtempSync(join(tmpdir(), "offload-h2load-"));
  const message = sessionsV1.sessionId.encode({ sessionId }).finish();
  const framed = Buffer.alloc(5 + message.length);
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, 5);
  const body = join(dir, "get-session.bin");
  writeFileSync(body, framed);
  // nghttpd answers with the file at the request path: a framed message the size of an answer.
  const answer = sessionsV1.sessionResponse
    .encode(sessionsV1.sessionResponse.fromPartial({ sessionId, sessionState: 1, requestStatus: 1 }))
    .finish();
  const docroot = join(dir, "htdocs");
  const file = join(docroot, ...GET_SESSION_PATH.split("/").filter(Boolean));
  execFileSync("mkdir", ["-p", join(file, "..")]);
  const framedAnswer = Buffer.alloc(5 + answer.length);
  framedAnswer.writeUInt32BE(answer.length, 1);
  framedAnswer.set(answer, 5);
  writeFileSync(file, framedAnswer);
  return { body, docroot, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** One h2load run: `-n n -c 1 -m streams` against `target` (host:port), h2load pinned to core 1. */
export interface H2loadRun {
  readonly target: string;
  readonly n: number;
  readonly streams: number;
  readonly body: string;
  readonly timeoutS?: number;
}

/** The h2load command line of a run, for the report. */
export function h2loadArgs(run: H2loadRun): string[] {
  return [
    "-n",
    String(run.n),
    "-c",
    "1",
    "-m",
    String(run.streams),
    "-d",
    run.body,
    "-H",
    "content-type: application/grpc",
    "-H",
    "te: trailers",
    `http://${run.target}${GET_SESSION_PATH}`,
  ];
}

/** Runs h2load pinned to core 1 and reads its summary into a LoadResult (ops/s, mean latency as p50). */
export function runH2load(run: H2loadRun): Promise<LoadResult> {
  const [cmd, cmdArgs] = pinned(1, "h2load", h2loadArgs(run));
  return new Promise((resolve, reject) => {
    execFile("timeout", [String(run.timeoutS ?? 300), cmd, ...cmdArgs], { maxBuffer: 16 << 20 }, (err, stdout) => {
      const rate = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(stdout)?.[1];
      const done = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(
        stdout,
      );
      const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(stdout)?.[1];
      if (rate === undefined || done === null) {
        reject(new Error(`h2load ${h2loadArgs(run).join(" ")} failed: ${err?.message ?? ""}\n${stdout}`));
        return;
      }
      const us = mean === undefined ? 0 : toMicros(mean);
      resolve({
        scenario: "get",
        concurrency: run.streams,
        ops: Number(done[1]),
        seconds: Number(done[1]) / Number(rate),
        ops_per_s: Number(rate),
        latency_us: { p50: us, p90: 0, p99: 0, max: 0, mean: us },
        grpc_status: {},
        request_status: {},
        errors: Number(done[3]) + Number(done[4]),
        ok: Number(done[2]) === run.n,
        driver: "h2load",
      });
    });
  });
}

function toMicros(value: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(value);
  if (m === null) return 0;
  const n = Number(m[1]);
  return m[2] === "us" ? n : m[2] === "ms" ? n * 1000 : n * 1_000_000;
}

/** A free TCP port on 127.0.0.1 (for nghttpd, which cannot report a port it chose). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** nghttpd (plaintext, one worker) serving `docroot`, pinned to core 0. */
export interface RunningNghttpd {
  readonly child: ChildProcess;
  readonly target: string;
  stop(): Promise<void>;
}

/** Starts nghttpd and waits until it accepts connections. */
export async function startNghttpd(docroot: string): Promise<RunningNghttpd> {
  const port = await freePort();
  const [cmd, args] = pinned(0, "nghttpd", ["--no-tls", "-a", "127.0.0.1", "-d", docroot, String(port)]);
  const child = spawn(cmd, args, { stdio: "ignore" });
  const target = `127.0.0.1:${port}`;
  for (let i = 0; i < 200; i += 1) {
    if (child.exitCode !== null) throw new Error(`nghttpd exited with ${child.exitCode}`);
    if (await accepts(port)) return { child, target, stop: () => stopProcess(child) };
    await new Promise((r) => setTimeout(r, 50));
  }
  await stopProcess(child);
  throw new Error("nghttpd: not accepting connections after 10 s");
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

// The built offload-server command as a child process, for tests that drive it
// as an operator would: start it, read its stdout lines, signal it.
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";

/** The built command, as `npm start` and the package's bin run it (`npm run build` first). */
export const OFFLOAD_SERVER_BIN = join(__dirname, "../dist/cli.js");

/** A child process whose stdout and stderr are collected. */
export interface RunningCommand {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  stdout(): string;
  stderr(): string;
  /** Resolves to the exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>;
}

/** A started offload-server: the ports it printed (sessions, stats, metrics), its TLS mode and CA. */
export interface StartedServer extends RunningCommand {
  readonly ports: Readonly<Record<string, number>>;
  readonly tls: string;
  readonly ca: string | undefined;
}

/** Spawns `command args` (default: node running the offload-server bin) in `cwd`; collects its output. */
export function runCommand(
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; command?: string; stdin?: "ignore" },
): RunningCommand {
  if (options.command === undefined && !existsSync(OFFLOAD_SERVER_BIN)) {
    throw new Error(`${OFFLOAD_SERVER_BIN} is missing: run \`npm run build\` first`);
  }
  const command = options.command ?? process.execPath;
  const argv = options.command === undefined ? [OFFLOAD_SERVER_BIN, ...args] : [...args];
  const child = spawn(command, argv, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits until `running` printed a line `ready` (rejects if it exits first) and reads the endpoints it printed. */
export async function whenReady(running: RunningCommand): Promise<StartedServer> {
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (running.stdout().split("\n").includes("ready")) resolve();
    };
    running.child.stdout.on("data", check);
    check();
    void running.exited.then((code) => reject(new Error(`exited ${code} before ready: ${running.stderr()}`)));
  });
  const ports: Record<string, number> = {};
  let tls = "";
  let ca: string | undefined;
  for (const line of running.stdout().split("\n")) {
    const listening = /^listening service=(\w+) address=\S+ port=(\d+) tls=(\w+)$/.exec(line);
    if (listening) {
      ports[listening[1] as string] = Number(listening[2]);
      if (listening[1] !== "metrics") tls = listening[3] as string;
    }
    const trust = /^trust ca=(.+)$/.exec(line);
    if (trust) ca = trust[1];
  }
  return { ...running, ports, tls, ca };
}

/** Kills what is still running (SIGKILL): for afterEach. */
export function killAll(commands: RunningCommand[]): void {
  for (const { child } of commands.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}

import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";

/** True when `taskset` exists and the machine has at least two cores to pin to. */
export function canPin(): boolean {
  if (cpus().length < 2) return false;
  try {
    execFileSync("taskset", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Prefixes a command with `taskset -c CORE` when pinning is possible. */
export function pinned(core: number, command: string, args: readonly string[]): [string, string[]] {
  return canPin() ? ["taskset", ["-c", String(core), command, ...args]] : [command, [...args]];
}

/** Memory of a process from /proc (MiB): current resident set and its high-water mark. */
export function memoryOf(pid: number): { rssMiB: number; hwmMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
  return { rssMiB: kb("VmRSS") / 1024, hwmMiB: kb("VmHWM") / 1024 };
}

/** CPU time a process has used so far, user + system, in microseconds (from /proc; all its threads). */
export function cpuMicrosOf(pid: number): number {
  // Fields after the command name (which may hold spaces): utime and stime are the 14th and 15th of the line.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1_000_000) / CLOCK_TICKS;
}

// USER_HZ, the unit of /proc/PID/stat times: 100 on Linux everywhere but a few exotic ports.
const CLOCK_TICKS = Number(process.env.CLK_TCK ?? 100);

/** A started server process and the port(s) it listens on. */
export interface RunningServer {
  readonly name: string;
  readonly child: ChildProcess;
  readonly sessionsTarget: string;
  readonly statsTarget: string;
  stop(): Promise<void>;
}

/**
 * Starts a server and waits until `parsePorts` finds its listening ports in
 * its output (stdout and stderr), or fails after `timeoutMs`.
 */
export function startServer(
  name: string,
  command: string,
  args: readonly string[],
  parsePorts: (output: string) => { sessions: number; stats: number } | undefined,
  timeoutMs = 60_000,
): Promise<RunningServer> {
  const child = spawn(command, [...args], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${name}: not listening after ${timeoutMs} ms; output:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const ports = parsePorts(output);
      if (!ports) return;
      clearTimeout(timer);
      child.stdout?.removeAllListeners("data");
      child.stderr?.removeAllListeners("data");
      child.stdout?.resume();
      child.stderr?.resume();
      resolve({
        name,
        child,
        sessionsTarget: `127.0.0.1:${ports.sessions}`,
        statsTarget: `127.0.0.1:${ports.stats}`,
        stop: () => stopProcess(child),
      });
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before listening; output:\n${output}`));
    });
  });
}

/** SIGTERM, then SIGKILL after 10 s; resolves when the process is gone. */
export function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

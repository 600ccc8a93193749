import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * The basic demo end to end as child processes, through its own scripts:
 * servers started by runServers.sh (one process) or runServer1.sh +
 * runServer2.sh (two processes over the shared SQLite switch), on ports
 * 0, with TLS and the dev CA; then runClient.sh; its output is checked
 * section by section.
 */
const HERE = join(__dirname, "..");

let demoDir: string;
beforeAll(() => {
  demoDir = mkdtempSync(join(tmpdir(), "offload-basic-demo-"));
});
afterAll(() => rmSync(demoDir, { recursive: true, force: true }));

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    await exited;
  }
});

function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, OFFLOAD_DEMO_DIR: demoDir, ...extra };
}

/** Starts a server script and resolves the ports it printed, once it printed `ready`. */
function startServer(script: string, extra: Record<string, string>, args: string[] = []): Promise<Map<string, number>> {
  const child = spawn(join(HERE, script), args, { env: env(extra), stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr?.on("data", (c: Buffer) => (err += c.toString()));
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      if (/^ready$/m.test(out)) {
        const ports = new Map<string, number>();
        for (const m of out.matchAll(/^listening service=(\w+) address=\S+ port=(\d+)/gm)) {
          ports.set(m[1] as string, Number(m[2]));
        }
        resolve(ports);
      }
    });
    child.once("exit", (code) => reject(new Error(`${script} exited ${code}: ${err}`)));
  });
}

function runClient(
  sessionsPort: number,
  statsPort: number,
  extra: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    join(HERE, "runClient.sh"),
    [
      "--sessions",
      `localhost:${sessionsPort}`,
      "--stats",
      `localhost:${statsPort}`,
      "--closed-timeout",
      "40",
      ...extra,
    ],
    { env: env({}), stdio: ["ignore", "pipe", "pipe"] },
  );
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}

const SECTIONS = [
  "Add Session",
  "Get Session",
  "Delete Session",
  "Add Mirror and Forward Session",
  "Check for Closed Sessions",
];

/** Checks the client's output: sections in order, ids consistent, closed sessions really closed. */
function checkDemoOutput(stdout: string): void {
  const lines = stdout.split("\n");
  const at = SECTIONS.map((s) => lines.indexOf(`-------------- ${s} --------------`));
  expect(at.every((i) => i >= 0)).toBe(true);
  expect([...at].sort((a, b) => a - b)).toEqual(at);
  const [add, get, del, addTwo, check] = at as [number, number, number, number, number];
  expect(lines[add + 1]).toBe("Adding Session");
  const firstId = lines[add + 2] as string;
  expect(firstId).toMatch(/^[1-9]\d*$/);
  expect(lines.slice(get + 1, get + 3)).toEqual(["Getting Session", `SessionId: ${firstId}`]);
  expect(lines[get + 3]).toMatch(/^Session State 0=ESTABLISHED : [0-3]$/);
  expect(lines[get + 4]).toBe("Session RequestStatus: 0");
  expect(lines[get + 5]).toMatch(/^Session ReasonCode: [0-3]$/);
  expect(lines[get + 6]).toMatch(/^Session InPackets \d+$/);
  expect(lines.slice(del + 1, del + 4)).toEqual([
    "Getting Session",
    `SessionId: ${firstId}`,
    "Session State 0=ESTABLISHED 1=CLOSING_1 : 1",
  ]);
  expect(lines.slice(del).find((l) => l.startsWith("Session endTime seconds: "))).toBeDefined();
  const added = lines.slice(addTwo + 1, check);
  expect(added).toHaveLength(4);
  const [mirrorId, forwardId] = [added[1] as string, added[3] as string];
  expect(new Set([firstId, mirrorId, forwardId]).size).toBe(3);
  const received = lines.slice(check);
  const ids = received.filter((l) => l.startsWith("SessionId: ")).map((l) => l.slice("SessionId: ".length));
  expect(ids).toEqual(expect.arrayContaining([mirrorId, forwardId]));
  expect(received.filter((l) => l === "### RECEIVED SESSION #####")).toHaveLength(ids.length);
  for (const state of received.filter((l) => l.startsWith("Session State "))) expect(state).toMatch(/ : 3$/);
  for (const code of received.filter((l) => l.startsWith("Session ReasonCode: "))) expect(code).toMatch(/: [123]$/);
}

describe("examples/basic scripts, end to end as child processes", () => {
  it("runServers.sh (both services, one process, TLS) + runClient.sh prints the demo with real values", async () => {
    const ports = await startServer("runServers.sh", { SESSIONS_PORT: "0", STATS_PORT: "0" });
    const { code, stdout, stderr } = await runClient(ports.get("sessions") as number, ports.get("stats") as number);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    checkDemoOutput(stdout);
  }, 60_000);

  it("runServer1.sh + runServer2.sh (two processes, shared SQLite switch) + runClient.sh", async () => {
    const [sessions, stats] = await Promise.all([
      startServer("runServer1.sh", { SESSIONS_PORT: "0" }),
      startServer("runServer2.sh", { STATS_PORT: "0" }),
    ]);
    const { code, stdout, stderr } = await runClient(sessions.get("sessions") as number, stats.get("stats") as number);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    checkDemoOutput(stdout);
  }, 90_000);
});

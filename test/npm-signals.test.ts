/**
 * SIGTERM and SIGINT sent to `npm start` or `npm run demo:server1` (the npm
 * process itself, as a supervisor or a terminal sends them) stop the server
 * gracefully: npm passes the signal to its script's shell, which must have
 * become the server (`exec`), so that the server shuts down, frees its ports
 * and exits 0, and npm with it. The scripts run in a scratch project that has
 * the repository's own script lines, with `build` made a no-op (the real
 * build would remove every package's dist/ under the other tests' feet), and
 * links to the repository's packages, examples and node_modules.
 * Needs `npm run build` first (`npm test` builds before Jest runs).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Readable } from "node:stream";

const repo = resolve(__dirname, "..");
const built = existsSync(join(repo, "packages/reference-server/dist/cli.js"));
const scripts = (JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { scripts: Record<string, string> })
  .scripts;

let project: string;
const running: Array<ChildProcessByStdio<null, Readable, Readable>> = [];

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), "offload-npm-signals-"));
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "npm-signals", private: true, scripts: { ...scripts, build: "true" } }, null, 2),
  );
  for (const name of ["packages", "examples", "node_modules"]) symlinkSync(join(repo, name), join(project, name));
});
afterEach(() => {
  // Whatever a failed test left: the whole process group (npm, its shell, the server).
  for (const child of running.splice(0)) {
    if (child.exitCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
});
afterAll(() => rmSync(project, { recursive: true, force: true }));

function npm(args: string[], env: NodeJS.ProcessEnv = {}) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.OFFLOAD_TLS_DIR;
  delete childEnv.npm_lifecycle_event;
  const child = spawn("npm", args, { cwd: project, env: childEnv, stdio: ["ignore", "pipe", "pipe"], detached: true });
  running.push(child);
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exited = new Promise<number | null>((res) => child.on("close", (code) => res(code)));
  const ready = new Promise<Record<string, number>>((res, rej) => {
    child.stdout.on("data", () => {
      if (!out.split("\n").includes("ready")) return;
      const ports: Record<string, number> = {};
      for (const m of out.matchAll(/^listening service=(\w+) \S+ port=(\d+)/gm)) ports[m[1] as string] = Number(m[2]);
      res(ports);
    });
    void exited.then((code) => rej(new Error(`npm exited ${code} before ready:\n${out}\n${err}`)));
  });
  ready.catch(() => undefined); // a run that is not a server never gets ready: only a test awaiting it fails
  return { child, ready, exited, stdout: () => out, stderr: () => err };
}

async function portIsFree(port: number): Promise<boolean> {
  const probe = createServer();
  return new Promise((res) => {
    probe.once("error", () => res(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => res(true)));
  });
}

(built ? describe : describe.skip)("signals to npm scripts reach the server", () => {
  it.each([
    ["SIGTERM", ["start", "--", "--insecure", "--sessions-port", "0", "--stats-port", "0"]],
    ["SIGINT", ["start", "--", "--sessions-port", "0", "--stats-port", "0", "--metrics-port", "0"]],
  ] as const)("npm start, then %s to npm: graceful stop, ports freed, exit 0", async (signal, args) => {
    const run = npm([...args], { OFFLOAD_TLS_DIR: join(project, "tls") });
    const ports = await run.ready;
    expect(Object.keys(ports).length).toBeGreaterThanOrEqual(2);
    process.kill(run.child.pid as number, signal);
    expect(await run.exited).toBe(0);
    for (const port of Object.values(ports)) expect([port, await portIsFree(port)]).toEqual([port, true]);
    expect(run.stderr()).toContain('"msg":"stopped"');
  });

  it("npm start, then npm run demo:client: the client trusts npm start's development CA and completes", async () => {
    const server = npm(["start", "--", "--sessions-port", "0", "--stats-port", "0"]);
    const ports = await server.ready;
    const client = npm(
      [
        "run",
        "demo:client",
        "--",
        "--sessions",
        `localhost:${ports.sessions}`,
        "--stats",
        `localhost:${ports.stats}`,
        "--closed-timeout",
        "40",
      ],
      { OFFLOAD_DEMO_DIR: join(project, "demo-client") },
    );
    expect(await client.exited).toBe(0);
    expect(client.stdout()).toContain("-------------- Add Session --------------");
    expect(client.stderr()).not.toMatch(/DEP0123|error/);
    process.kill(server.child.pid as number, "SIGTERM");
    expect(await server.exited).toBe(0);
  }, 90_000);

  it.each([
    ["demo:server1", { SESSIONS_PORT: "0" }],
    ["demo:server2", { STATS_PORT: "0" }],
  ])("npm run %s, then SIGTERM to npm: graceful stop, port freed, exit 0", async (script, env) => {
    const run = npm(["run", script, "--", "--insecure"], { ...env, OFFLOAD_DEMO_DIR: join(project, `demo-${script}`) });
    const ports = await run.ready;
    process.kill(run.child.pid as number, "SIGTERM");
    expect(await run.exited).toBe(0);
    for (const port of Object.values(ports)) expect(await portIsFree(port)).toBe(true);
  });
});

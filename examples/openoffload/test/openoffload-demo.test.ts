import { createInsecureCredentials } from "@sessionoffload/server-transport";
import { afterEach, describe, expect, it } from "@jest/globals";
import { execFile, spawn } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { createOffloadClient, createOpenOffloadClient } from "@sessionoffload/offload-api";
import { createSessionServer } from "@sessionoffload/session-server";
import { createMemorySwitch } from "@sessionoffload/switch-backend";
import { runOpenOffloadDemo } from "../demo";

const repo = resolve(__dirname, "../../..");
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const SECTIONS = [
  "-------------- Add Session --------------",
  "-------------- Get Session --------------",
  "-------------- Delete Session --------------",
  "-------------- Add Mirror and Forward Session (one batch) --------------",
  "-------------- Get All Sessions (pages of 64) --------------",
  "-------------- Check for Closed Sessions --------------",
];

describe("examples/openoffload demo client", () => {
  it("runs the original flow in the second generation against a server over a switch with traffic", async () => {
    // Fast ticks and a FIN now and then, so that the TCP sessions end within a second.
    const sw = createMemorySwitch({ capacity: 100, tickIntervalMs: 20, seed: 7, traffic: { finProbability: 0.01 } });
    cleanups.push(() => sw.close());
    const server = createSessionServer({ backend: sw, credentials: createInsecureCredentials() });
    const port = await server.listen("127.0.0.1:0");
    cleanups.push(() => server.shutdown());
    const client = createOpenOffloadClient({ address: `127.0.0.1:${port}`, credentials: { insecure: true } });
    cleanups.push(() => client.close());
    const lines: string[] = [];
    const outcome = await runOpenOffloadDemo(client, {
      print: (l) => lines.push(l),
      firstId: 1000n,
      closedTimeoutMs: 20_000,
      pollMs: 50,
    });

    const at = SECTIONS.map((s) => lines.indexOf(s));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(lines[at[0]! + 2]).toBe("1000: accepted");
    expect(outcome.got?.id).toBe(1000n);
    expect(outcome.deleted).toMatchObject({ id: 1000n, state: "closing1" });
    expect(outcome.batch).toEqual([
      { kind: "accepted", id: 1001n },
      { kind: "accepted", id: 1002n },
      { kind: "alreadyExists", id: 1001n, afterRetry: false },
    ]);
    expect(lines.slice(at[3]! + 1, at[4])).toEqual([
      "1001: accepted",
      "1002: accepted",
      "1001: already exists (errorStatus 6)",
    ]);
    expect(outcome.listed).toEqual(expect.arrayContaining([1001n, 1002n]));
    expect(outcome.complete).toBe(true);
    const closedIds = outcome.closed.map((s) => s.id);
    expect(closedIds).toEqual(expect.arrayContaining([1001n, 1002n]));
    expect(new Set(closedIds).size).toBe(closedIds.length);
    for (const s of outcome.closed) expect(s).toMatchObject({ state: "closed" });

    // The first generation's client sees the same table on the same port.
    const v1 = createOffloadClient({
      sessionsAddress: `127.0.0.1:${port}`,
      statsAddress: `127.0.0.1:${port}`,
      credentials: { insecure: true },
    });
    cleanups.push(() => v1.close());
    expect(await v1.getSession(1001n)).toEqual({ kind: "notFound" });
  }, 30_000);

  it("runs as a command against the reference server, and exits 2 on a usage error", async () => {
    const cli = resolve(repo, "packages/reference-server/dist/cli.js");
    const server = spawn(process.execPath, [cli, "--insecure", "--sessions-port", "0", "--stats-port", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    cleanups.push(() => {
      server.kill("SIGKILL");
    });
    let out = "";
    await new Promise<void>((ready, fail) => {
      server.stdout.setEncoding("utf8").on("data", (d: string) => {
        out += d;
        if (out.split("\n").includes("ready")) ready();
      });
      server.on("close", (code) => fail(new Error(`server exited ${code}`)));
    });
    const port = /^listening service=sessions address=\S+ port=(\d+)/m.exec(out)?.[1];
    const run = promisify(execFile);
    const client = [
      "--no-deprecation",
      "--import",
      "tsx",
      "examples/openoffload/client.ts",
      "--insecure",
      "--address",
      `127.0.0.1:${port}`,
    ];
    const { stdout } = await run(process.execPath, [...client, "--closed-timeout", "60"], {
      cwd: repo,
      timeout: 90_000,
    });
    expect(stdout).toContain("-------------- Check for Closed Sessions --------------");
    expect(stdout).toMatch(/: already exists \(errorStatus 6\)/);
    expect(stdout).toContain("### RECEIVED SESSION #####");
    const bad = await run(process.execPath, [...client, "--first-id", "0"], { cwd: repo }).catch(
      (err: { code?: number; stderr?: string }) => err,
    );
    expect((bad as { code?: number }).code).toBe(2);
    expect((bad as { stderr?: string }).stderr).toMatch(/--first-id/);
  }, 120_000);
});

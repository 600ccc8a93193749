/**
 * Every example and bench command behaves the same on the command line:
 * --version and --help exit 0, a mistake is one line and exit 2, a server
 * that cannot be reached is one line and exit 3, and nothing prints a stack
 * trace for a user's mistake.
 */
import { describe, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";

const repo = resolve(__dirname, "../../..");
const version = (JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { version: string }).version;

function run(file: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) =>
    execFile(
      process.execPath,
      ["--import", "tsx", file, ...args],
      { cwd: repo, timeout: 60_000 },
      (err, stdout, stderr) =>
        done({ code: err === null ? 0 : ((err.code as number | undefined) ?? null), stdout, stderr }),
    ),
  );
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const COMMANDS: Array<[string, string, string]> = [
  ["examples/basic/client.ts", "client", "--closed-timeout"],
  ["examples/firewall-simulator/main.ts", "firewall-simulator", "--rate"],
  ["examples/watch/watch.ts", "watch", "--interval"],
  ["examples/openoffload/client.ts", "client", "--closed-timeout"],
  ["bench/run.ts", "bench", "--reps"],
  ["bench/switch-memory.ts", "switch-memory", ""],
  ["bench/kernel-switch.ts", "kernel-switch", ""],
  ["bench/kernel-close-latency.ts", "kernel-close-latency", ""],
  ["bench/sqlite-switch.ts", "sqlite-switch", ""],
];

describe("command-line behaviour of the examples and the bench", () => {
  it.each(COMMANDS)(
    "%s: --version; an unknown flag or a bad value is one line and exit 2",
    async (file, name, numeric) => {
      const runs = await Promise.all([
        run(file, ["--version"]),
        run(file, ["--no-such-flag"]),
        run(file, numeric === "" ? ["not-a-number"] : [numeric, "soon"]),
      ]);
      const [v, unknown, bad] = runs as [
        Awaited<ReturnType<typeof run>>,
        Awaited<ReturnType<typeof run>>,
        Awaited<ReturnType<typeof run>>,
      ];
      expect(v).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
      expect(unknown).toEqual({
        code: 2,
        stdout: "",
        stderr: `${name}: error: unknown option '--no-such-flag' (see --help)\n`,
      });
      expect(bad.code).toBe(2);
      expect(bad.stderr.trim().split("\n")).toEqual([
        expect.stringMatching(new RegExp(`^${name}: error: \\S+: expected `)),
      ]);
    },
  );

  it("--help lists the flags and --version", async () => {
    const help = await run("examples/watch/watch.ts", ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: watch\.ts/);
    for (const flag of ["--stats", "--ca", "--insecure", "--version", "--help"]) expect(help.stdout).toContain(flag);
  });

  it.each(COMMANDS.slice(0, 3))("%s: a server that cannot be reached is one line and exit 3", async (file, name) => {
    const port = await closedPort();
    const { code, stderr } = await run(file, [
      "--insecure",
      ...(name === "watch" ? ["--once"] : ["--sessions", `127.0.0.1:${port}`]),
      "--stats",
      `127.0.0.1:${port}`,
      ...(name === "firewall-simulator" ? ["--duration", "1"] : []),
    ]);
    expect(stderr.trim().split("\n")).toEqual([expect.stringMatching(new RegExp(`^${name}: error: .*UNAVAILABLE`))]);
    expect(code).toBe(3);
  });
});

/**
 * A smoke run of `npm run bench`: tiny sizes, the memory backend, the Node
 * driver (no peers), one repetition; then the sqlite backend, and the
 * nftables one where root has nft and network namespaces. It checks that the
 * harness starts the built reference server, drives every scenario over real
 * gRPC without an error, and writes the table, the JSON and the chart; it
 * asserts no timing.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";

const repo = resolve(__dirname, "..");

function onPath(tool: string): boolean {
  return (process.env.PATH ?? "").split(delimiter).some((dir) => dir !== "" && existsSync(join(dir, tool)));
}

describe("npm run bench (smoke)", () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), "offload-bench-smoke-"));
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("runs every scenario against the memory backend and writes table, JSON and chart", () => {
    if (!existsSync(join(repo, "packages/reference-server/dist/cli.js"))) {
      throw new Error("run `npm run build` first (npm test builds before Jest)");
    }
    execFileSync(
      process.execPath,
      ["--import", "tsx", "bench/run.ts", "--quick", "--no-peers", "--backends", "memory", "--reps", "1", "--out", out],
      { cwd: repo, stdio: "pipe", timeout: 240_000 },
    );
    const results = JSON.parse(readFileSync(join(out, "latest.json"), "utf8")) as {
      driver: string;
      rows: { server: string; scenario: string; concurrency: number; opsPerS: number; notes: string }[];
      memory: { sessions: number; bytesPerSession: number }[];
    };
    expect(results.driver).toBe("node-loadgen");
    expect(results.rows.map((r) => `${r.server} ${r.scenario}@${r.concurrency}`)).toEqual([
      "ts add@1",
      "ts add@16",
      "ts add@64",
      "ts get@1",
      "ts get@16",
      "ts get@64",
      "ts delete@16",
      "ts dump 1,000@1",
      "ts dump 2,000@1",
      "ts closed@1",
      "ts-grpc-js add@16",
      // h2load's rows where it is installed (CI installs it; nghttpd's row needs nghttp2-server too).
      ...(onPath("h2load") ? ["ts h2load getSession@16"] : []),
      ...(onPath("h2load") && onPath("nghttpd") ? ["nghttpd h2load getSession@16"] : []),
    ]);
    for (const row of results.rows) {
      expect(row.notes).not.toMatch(/UNAVAILABLE|INTERNAL|DEADLINE|UNKNOWN|CANCELLED/);
      expect(row.opsPerS).toBeGreaterThan(0);
    }
    expect(results.memory.map((m) => m.sessions)).toEqual([1000, 2000]);
    expect(readFileSync(join(out, "latest.md"), "utf8")).toContain("| ts | memory | add | 16 |");
    expect(readFileSync(join(out, "latest.svg"), "utf8")).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\n$/);
  }, 300_000);

  it("runs the sqlite backend, and the nftables one where root has nft and ip", () => {
    const kernel = kernelMissing();
    if (kernel !== undefined) console.warn(`bench smoke: nftables ${kernel}`);
    const backends = kernel === undefined ? ["sqlite", "nftables"] : ["sqlite"];
    const dir = join(out, "durable");
    execFileSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "bench/run.ts",
        "--quick",
        "--no-peers",
        "--backends",
        backends.join(","),
        "--reps",
        "1",
        "--out",
        dir,
      ],
      { cwd: repo, stdio: "pipe", timeout: 240_000 },
    );
    const results = JSON.parse(readFileSync(join(dir, "latest.json"), "utf8")) as {
      rows: {
        server: string;
        backend: string;
        scenario: string;
        concurrency: number;
        opsPerS: number;
        notes: string;
      }[];
    };
    const expected = [
      "sqlite add@1",
      "sqlite add@16",
      "sqlite add@64",
      "sqlite get@1",
      "sqlite get@16",
      "sqlite get@64",
      "sqlite delete@16",
      "sqlite dump 1,000@1",
      "sqlite closed@1",
    ];
    if (kernel === undefined) {
      expected.push(
        "nftables add@1",
        "nftables add@16",
        "nftables add@64",
        "nftables get@16",
        "nftables delete@16",
        "nftables dump 1,000@1",
      );
    }
    expect(results.rows.map((r) => `${r.backend} ${r.scenario}@${r.concurrency}`)).toEqual(expected);
    for (const row of results.rows) {
      expect(row.notes).not.toMatch(/UNAVAILABLE|INTERNAL|DEADLINE|UNKNOWN|CANCELLED/);
      expect(row.opsPerS).toBeGreaterThan(0);
    }
  }, 300_000);
});

/** Why the nftables backend cannot run here (not root, no nft, no network namespaces), or undefined when it can. */
function kernelMissing(): string | undefined {
  if (process.platform !== "linux" || process.getuid?.() !== 0) return "skipped: needs root on Linux";
  try {
    execFileSync("nft", ["--version"], { stdio: "ignore" });
  } catch {
    return "skipped: no nft (apt-get install nftables)";
  }
  const probe = `bench-smoke-${process.pid}`;
  try {
    execFileSync("ip", ["netns", "add", probe], { stdio: "pipe" });
    execFileSync("ip", ["netns", "del", probe], { stdio: "pipe" });
  } catch (err) {
    return `skipped: no network namespaces (${(err as Error).message.split("\n")[0]})`;
  }
  return undefined;
}

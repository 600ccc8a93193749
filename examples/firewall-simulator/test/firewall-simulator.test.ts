import { createInsecureCredentials } from "@sessionoffload/server-transport";
import { afterEach, describe, expect, it } from "@jest/globals";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createOffloadClient, type Session } from "@sessionoffload/offload-api";
import { createSessionServer } from "@sessionoffload/session-server";
import { createStatsServer } from "@sessionoffload/stats-server";
import { createMemorySwitch, createSeededRandom, type MemorySwitch } from "@sessionoffload/switch-backend";
import { createSessionLedger, type Counters, type LedgerEntry } from "../session-ledger";
import { createFirewallSimulator } from "../simulator";
import { statusLine, summaryLines } from "../status-line";

const ROOT = join(__dirname, "..", "..", "..");
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Servers {
  readonly backend: MemorySwitch;
  readonly sessionsAddress: string;
  readonly statsAddress: string;
  /** Every closed session the statistics server wrote. */
  readonly written: Session[];
}

async function servers(capacity: number): Promise<Servers> {
  // Traffic on, fast ticks, FIN likely: sessions end within a fraction of a second.
  const backend = createMemorySwitch({ capacity, tickIntervalMs: 20, seed: 3, traffic: { finProbability: 0.02 } });
  const written: Session[] = [];
  const credentials = createInsecureCredentials();
  const sessions = createSessionServer({ backend, credentials, shutdownTimeoutMs: 2000 });
  const stats = createStatsServer({
    backend,
    credentials,
    shutdownTimeoutMs: 2000,
    hooks: { onWrite: (method, s) => void (method === "getClosedSessions" && written.push(s)) },
  });
  const sessionsAddress = `127.0.0.1:${await sessions.listen("127.0.0.1:0")}`;
  const statsAddress = `127.0.0.1:${await stats.listen("127.0.0.1:0")}`;
  cleanups.push(() => backend.close());
  cleanups.push(() => Promise.all([sessions.shutdown(), stats.shutdown()]).then(() => undefined));
  return { backend, sessionsAddress, statsAddress, written };
}

function sum(into: Counters, from: Counters): void {
  into.inPackets += from.inPackets;
  into.outPackets += from.outPackets;
  into.inBytes += from.inBytes;
  into.outBytes += from.outBytes;
}

describe("firewall simulator against real servers", () => {
  it("offloads, backs off on a full table, collects and reconciles every closed session", async () => {
    const { backend, sessionsAddress, statsAddress, written } = await servers(40);
    const client = createOffloadClient({ sessionsAddress, statsAddress, credentials: { insecure: true } });
    cleanups.push(() => client.close());
    const ledger = createSessionLedger();
    const offloaded = new Map<bigint, LedgerEntry>();
    const statuses: string[] = [];
    const simulator = createFirewallSimulator({
      client,
      ledger: {
        ...ledger,
        offloaded(entry) {
          offloaded.set(entry.id, entry);
          ledger.offloaded(entry);
        },
      },
      ratePerSecond: 400,
      collectIntervalMs: 100,
      statusIntervalMs: 200,
      initialBackoffMs: 20,
      maxBackoffMs: 100,
      random: createSeededRandom(11).nextFloat,
      onStatus: (s) => statuses.push(statusLine(s)),
    });
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 1500);
    const final = await simulator.run(stop.signal);

    expect(final.offloaded).toBeGreaterThan(40);
    expect(final.rejected).toBeGreaterThan(0);
    expect(final.closed).toBeGreaterThan(0);
    expect(final.errors).toBe(0);
    expect(final.unknown).toBe(0);
    // Every accepted session is either still active or was collected closed.
    expect(final.active + final.closed).toBe(final.offloaded);
    expect(Object.values(final.byCloseCode).reduce((a, b) => a + b, 0)).toBe(final.closed);
    // The switch holds exactly the sessions the firewall still has as active.
    const inSwitch = [...backend.sessions()].map((s) => s.id).sort();
    const active = [...ledger.entries()].map((e) => e.id).sort();
    expect(inSwitch).toEqual(active);
    // Each closed session the server delivered was reconciled once: merged counters = firewall's + switch's.
    expect(new Set(written.map((s) => s.id)).size).toBe(written.length);
    expect(written.length).toBe(final.closed);
    const expected: Counters = { inPackets: 0n, outPackets: 0n, inBytes: 0n, outBytes: 0n };
    for (const s of written) {
      sum(expected, s);
      sum(expected, (offloaded.get(s.id) as LedgerEntry).inspected);
    }
    expect(final.traffic).toEqual(expected);
    expect(final.traffic.inPackets).toBeGreaterThan(0n);
    // A live status line every period.
    expect(statuses.length).toBeGreaterThanOrEqual(3);
    expect(statuses[0]).toMatch(/^offloaded \d+ \| active \d+ \| closed \d+ \| rejected \d+ \| rate \d+\/s$/);
    expect(summaryLines(final)[0]).toBe("summary:");
  }, 30_000);
});

function runMain(args: string[]): {
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  kill(): void;
  firstLine: Promise<void>;
} {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(ROOT, "examples/firewall-simulator/main.ts"), ...args],
    {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  let seen: () => void = () => undefined;
  const firstLine = new Promise<void>((resolve) => (seen = resolve));
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.includes("\n")) seen();
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("exit", (code) => resolve({ code, stdout, stderr })),
  );
  cleanups.push(() => void child.kill("SIGKILL"));
  return { done, kill: () => child.kill("SIGINT"), firstLine };
}

describe("firewall simulator command", () => {
  it("--duration runs for that long and prints status lines and a summary", async () => {
    const { sessionsAddress, statsAddress } = await servers(1000);
    const run = runMain([
      "--insecure",
      "--sessions",
      sessionsAddress,
      "--stats",
      statsAddress,
      "--duration",
      "2",
      "--rate",
      "100",
      "--seed",
      "5",
    ]);
    const { code, stdout, stderr } = await run.done;
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^offloaded \d+ \| active \d+ \| closed \d+ \| rejected 0 \| rate \d+\/s$/m);
    expect(stdout).toMatch(/^summary:$/m);
    const offloaded = Number(/^ {2}offloaded +(\d+)$/m.exec(stdout)?.[1]);
    expect(offloaded).toBeGreaterThan(0);
  }, 30_000);

  it("stops cleanly on SIGINT (Ctrl-C) with a summary", async () => {
    const { sessionsAddress, statsAddress } = await servers(1000);
    const run = runMain(["--insecure", "--sessions", sessionsAddress, "--stats", statsAddress, "--rate", "100"]);
    await run.firstLine;
    run.kill();
    const { code, stdout } = await run.done;
    expect(code).toBe(0);
    expect(stdout).toMatch(/^summary:$/m);
  }, 30_000);

  it("a bad option is one line on stderr and exit 2", async () => {
    const { code, stderr } = await runMain(["--rate", "fast"]).done;
    expect(code).toBe(2);
    expect(stderr.trim()).toBe("firewall-simulator: error: --rate: expected a number in 0.001..1000000, got fast");
  }, 30_000);
});

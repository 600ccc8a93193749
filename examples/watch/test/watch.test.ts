import { createInsecureCredentials } from "@sessionoffload/server-transport";
import { afterEach, describe, expect, it } from "@jest/globals";
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { Session } from "@sessionoffload/offload-api";
import { createStatsServer } from "@sessionoffload/stats-server";
import { createMemorySwitch } from "@sessionoffload/switch-backend";
import { formatAge, renderSessionTable } from "../session-table";

const ROOT = join(__dirname, "..", "..", "..");
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const S = 1_000_000_000n;

function session(id: bigint, overrides: Partial<Session> = {}): Session {
  return {
    id,
    state: "established",
    closeCode: "notClosed",
    inPackets: 0n,
    outPackets: 0n,
    inBytes: 0n,
    outBytes: 0n,
    startTime: 1000n * S,
    endTime: undefined,
    ...overrides,
  };
}

describe("renderSessionTable", () => {
  it("aligns columns, shows close codes and ages (live: since start; ended: lifetime)", () => {
    const lines = renderSessionTable(
      [
        session(1n, { inPackets: 12n, inBytes: 3400n }),
        session(18446744073709551615n, { state: "closed", closeCode: "finAck", endTime: 1003n * S }),
      ],
      1065n * S,
    );
    expect(lines).toEqual([
      "                  ID  STATE        CLOSE   IN PKTS  IN BYTES  OUT PKTS  OUT BYTES    AGE",
      "                   1  established  -            12      3400         0          0  1m05s",
      "18446744073709551615  closed       finAck        0         0         0          0   3.0s",
    ]);
  });

  it.each([
    [0n, "0.0s"],
    [1_500_000_000n, "1.5s"],
    [61n * S, "1m01s"],
    [3723n * S, "1h02m"],
  ])("formatAge(%s) = %s", (ns, text) => {
    expect(formatAge(ns)).toBe(text);
  });
});

describe("watch --once against a real statistics server", () => {
  it("prints the switch's sessions with their real counters", async () => {
    const backend = createMemorySwitch({ capacity: 10, tickIntervalMs: 0, traffic: false });
    cleanups.push(() => backend.close());
    const server = createStatsServer({ backend, credentials: createInsecureCredentials() });
    cleanups.push(() => server.shutdown());
    const port = await server.listen("127.0.0.1:0");
    const spec = {
      inLif: "",
      outLif: "",
      ipVersion: "ipv4" as const,
      sourceIp: Uint8Array.from([10, 0, 0, 1]),
      sourcePort: 1234,
      destinationIp: Uint8Array.from([10, 0, 0, 2]),
      destinationPort: 80,
      protocol: "tcp" as const,
      action: "forward" as const,
      nextHop: "",
    };
    const a = backend.add(spec);
    const b = backend.add({ ...spec, sourcePort: 1235 });
    if (a.kind !== "accepted" || b.kind !== "accepted") throw new Error("not accepted");
    backend.addTraffic(a.session.id, { inPackets: 7n, outPackets: 8n, inBytes: 9001n, outBytes: 9002n });
    backend.endSession(b.session.id, "rst");

    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(ROOT, "examples/watch/watch.ts"),
        "--insecure",
        "--stats",
        `127.0.0.1:${port}`,
        "--once",
      ],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    cleanups.push(() => void child.kill("SIGKILL"));
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^2 sessions at \d{4}-\d\d-\d\dT/);
    expect(lines[1]).toMatch(/^\s*ID\s+STATE\s+CLOSE\s+IN PKTS\s+IN BYTES\s+OUT PKTS\s+OUT BYTES\s+AGE$/);
    expect(lines[2]?.trim().split(/\s+/).slice(0, 7)).toEqual([
      String(a.session.id),
      "established",
      "-",
      "7",
      "9001",
      "8",
      "9002",
    ]);
    expect(lines[3]?.trim().split(/\s+/).slice(0, 3)).toEqual([String(b.session.id), "closed", "rst"]);
    expect(lines).toHaveLength(4);
  }, 30_000);
});

import { createInsecureCredentials } from "@sessionoffload/server-transport";
import { afterEach, describe, expect, it } from "@jest/globals";
import { credentials } from "@grpc/grpc-js";
import type { OffloadServer } from "@sessionoffload/server-transport";
import { createMemorySwitch, type MemorySwitch } from "@sessionoffload/switch-backend";
import { createSessionServer } from "@sessionoffload/session-server";
import { createStatsServer } from "@sessionoffload/stats-server";
import { checkHealth, dynamicUnary, reflect, rootFromFiles, watchHealth } from "./grpc-tools";

const insecure = credentials.createInsecure();
let backend: MemorySwitch;
let servers: OffloadServer[] = [];

afterEach(async () => {
  await Promise.all(servers.map((s) => s.shutdown()));
  servers = [];
  backend.close();
});

async function start(): Promise<{ sessions: string; stats: string }> {
  backend = createMemorySwitch({ capacity: 10, traffic: false, tickIntervalMs: 0 });
  const options = { backend, credentials: createInsecureCredentials() };
  servers = [createSessionServer(options), createStatsServer(options)];
  const [a, b] = await Promise.all(servers.map((s) => s.listen("127.0.0.1:0")));
  return { sessions: `127.0.0.1:${a}`, stats: `127.0.0.1:${b}` };
}

describe("health", () => {
  it("answers SERVING for the server and its service on each port", async () => {
    const { sessions, stats } = await start();
    expect(await checkHealth(sessions, insecure, "")).toBe("SERVING");
    expect(await checkHealth(sessions, insecure, "sessions.v1.SessionTable")).toBe("SERVING");
    expect(await checkHealth(sessions, insecure, "openoffload.v1.SessionTable")).toBe("SERVING");
    expect(await checkHealth(stats, insecure, "")).toBe("SERVING");
    expect(await checkHealth(stats, insecure, "sessions.v1.SessionStatisticsTable")).toBe("SERVING");
    await expect(checkHealth(sessions, insecure, "sessions.v1.SessionStatisticsTable")).rejects.toMatchObject({
      code: 5,
    });
  });

  it("tells a watcher NOT_SERVING on shutdown and ends its stream without holding the shutdown", async () => {
    backend = createMemorySwitch({ capacity: 10, traffic: false, tickIntervalMs: 0 });
    const server = createStatsServer({
      backend,
      credentials: createInsecureCredentials(),
      shutdownTimeoutMs: 120_000,
    });
    const port = await server.listen("127.0.0.1:0");
    const watch = watchHealth(`127.0.0.1:${port}`, insecure, "sessions.v1.SessionStatisticsTable");
    try {
      while (watch.statuses.length === 0) await new Promise((r) => setTimeout(r, 5));
      // Were the Watch stream left open, this would wait out the 120 s grace period (and the test's timeout).
      await server.shutdown();
      expect(await watch.ended).toBe("end");
      expect(watch.statuses).toEqual(["SERVING", "NOT_SERVING"]);
    } finally {
      watch.close();
    }
  });

  it("can be turned off", async () => {
    backend = createMemorySwitch({ capacity: 10, traffic: false, tickIntervalMs: 0 });
    const server = createSessionServer({ backend, credentials: createInsecureCredentials(), health: false });
    servers = [server];
    const port = await server.listen("127.0.0.1:0");
    await expect(checkHealth(`127.0.0.1:${port}`, insecure, "")).rejects.toMatchObject({ code: 12 });
  });
});

describe("server reflection", () => {
  it.each(["v1", "v1alpha"] as const)("%s lists each server's service", async (version) => {
    const { sessions, stats } = await start();
    expect((await reflect(sessions, insecure, { listServices: "*" }, version)).services).toEqual([
      "sessions.v1.SessionTable",
      "openoffload.v1.SessionTable",
    ]);
    expect((await reflect(stats, insecure, { listServices: "*" }, version)).services).toEqual([
      "sessions.v1.SessionStatisticsTable",
    ]);
  });

  it("gives descriptors from which a generic client adds and gets a session", async () => {
    const { sessions, stats } = await start();
    const found = await reflect(sessions, insecure, { fileContainingSymbol: "sessions.v1.SessionTable" });
    expect(found.error).toBeUndefined();
    const root = rootFromFiles(found.files);
    const added = await dynamicUnary(sessions, insecure, root, "sessions.v1.SessionTable.addSession", {
      inLif: "eth0",
      outLif: "eth1",
      ipVersion: "_IPV4",
      sourceIp: Buffer.from([10, 0, 0, 1]),
      sourcePort: 4000,
      destinationIp: Buffer.from([10, 0, 0, 2]),
      destinationPort: 80,
      protocolId: "_UDP",
      action: { actionType: "_FORWARD" },
    });
    expect(added).toMatchObject({ sessionId: "1", requestStatus: "_ACCEPTED", sessionState: "_ESTABLISHED" });
    const got = await dynamicUnary(sessions, insecure, root, "sessions.v1.SessionTable.getSession", { sessionId: "1" });
    expect(got).toMatchObject({ sessionId: "1", requestStatus: "_ACCEPTED" });
    expect(backend.size()).toBe(1);

    // The second generation on the same port: its descriptors drive a generic client too.
    const oo = await reflect(sessions, insecure, { fileContainingSymbol: "openoffload.v1.SessionTable" });
    expect(oo.error).toBeUndefined();
    const ooRoot = rootFromFiles(oo.files);
    expect(Object.keys(ooRoot.lookupService("openoffload.v1.SessionTable").methods)).toEqual([
      "addSession",
      "getSession",
      "deleteSession",
      "getAllSessions",
      "getClosedSessions",
    ]);
    const page = await dynamicUnary(sessions, insecure, ooRoot, "openoffload.v1.SessionTable.getAllSessions", {
      pageSize: 64,
      startSession: "4294967295",
    });
    expect(page).toMatchObject({ sessionInfo: [{ sessionId: "1", sessionState: "_ESTABLISHED" }], nextkey: "1" });

    const statsFiles = await reflect(stats, insecure, { fileContainingSymbol: "sessions.v1.SessionStatisticsTable" });
    const statsRoot = rootFromFiles(statsFiles.files);
    expect(Object.keys(statsRoot.lookupService("sessions.v1.SessionStatisticsTable").methods)).toEqual([
      "getAllSessions",
      "getClosedSessions",
    ]);
  });
});

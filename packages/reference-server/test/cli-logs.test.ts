import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createOffloadClient, type SessionInput } from "@sessionoffload/offload-api";
import { killAll, runCommand, whenReady, type RunningCommand, type StartedServer } from "./offload-server-process";

let workdir: string;
const commands: RunningCommand[] = [];
beforeAll(() => {
  workdir = mkdtempSync(join(tmpdir(), "offload-cli-logs-"));
});
afterEach(() => killAll(commands));
afterAll(() => rmSync(workdir, { recursive: true, force: true }));

async function start(args: string[]): Promise<StartedServer> {
  const running = runCommand(["--insecure", "--sessions-port", "0", "--stats-port", "0", ...args], { cwd: workdir });
  commands.push(running);
  return whenReady(running);
}

const session = (port: number): SessionInput => ({
  sourceIp: "10.0.0.1",
  sourcePort: port,
  destinationIp: "10.0.0.2",
  destinationPort: 443,
  protocol: "udp",
  action: "mirror",
  nextHop: "192.0.2.9",
});

async function addSessions(server: StartedServer, ports: readonly number[]): Promise<void> {
  const client = createOffloadClient({
    sessionsAddress: `127.0.0.1:${server.ports.sessions}`,
    credentials: { insecure: true },
  });
  try {
    for (const port of ports) {
      await client.addSession(session(port));
    }
  } finally {
    client.close();
  }
}

async function stop(server: StartedServer): Promise<Array<Record<string, unknown>>> {
  server.child.kill("SIGTERM");
  expect(await server.exited).toBe(0);
  return server
    .stderr()
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("offload-server logs", () => {
  it("--log-level debug: one JSON line per request, in readable form", async () => {
    const server = await start(["--log-level", "debug"]);
    await addSessions(server, [40000]);
    const lines = await stop(server);
    const requests = lines.filter((l) => l.msg === "request");
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      level: 20,
      method: "addSession",
      request: {
        ipVersion: "ipv4",
        source: "10.0.0.1:40000",
        destination: "10.0.0.2:443",
        protocol: "udp",
        action: "mirror",
        nextHop: "192.0.2.9",
      },
      result: "accepted",
      sessionId: "1",
    });
  });

  it("at the default level: a full table is logged at info, once and then summarised, and no request lines", async () => {
    const server = await start(["--max-sessions", "1"]);
    await addSessions(server, [40000, 40001, 40002, 40003]);
    const lines = await stop(server);
    expect(lines.filter((l) => l.msg === "request")).toEqual([]);
    const full = lines.filter((l) => typeof l.msg === "string" && l.msg.startsWith("table full"));
    expect(full.map((l) => [l.level, l.msg])).toEqual([[30, "table full: adds refused"]]);
  });

  it("--log-format pretty: lines for a person, not JSON", async () => {
    const server = await start(["--log-format", "pretty"]);
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    const text = server.stderr();
    expect(text).toMatch(/INFO.*listening/);
    expect(text).toContain('service: "sessions"');
    expect(text).toMatch(/INFO.*stopped/);
    for (const line of text.split("\n")) expect(line.startsWith("{")).toBe(false);
  });
});

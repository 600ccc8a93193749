import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseCommandLine, UsageError, type ReferenceServerConfig } from "../src";

function config(args: string[]): ReferenceServerConfig {
  const parsed = parseCommandLine(args, { writeOut: () => undefined });
  if (parsed.kind !== "run") throw new Error("expected a configuration");
  return parsed.config;
}

function usage(args: string[]): string {
  try {
    parseCommandLine(args, { writeOut: () => undefined });
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    const message = (err as Error).message;
    expect(message).not.toContain("\n");
    return message;
  }
  throw new Error(`expected a UsageError for ${args.join(" ")}`);
}

describe("parseCommandLine", () => {
  it("defaults: both services on 127.0.0.1:3443/3444, development TLS, memory switch with traffic", () => {
    expect(config([])).toEqual({
      services: ["sessions", "stats"],
      host: "127.0.0.1",
      sessionsPort: 3443,
      statsPort: 3444,
      tls: { mode: "dev", dev: { dir: undefined }, clientCaPath: undefined },
      backend: {
        kind: "memory",
        maxSessions: undefined,
        tcpIdleTimeoutMs: undefined,
        udpIdleTimeoutMs: undefined,
        traffic: true,
        seed: undefined,
      },
      logLevel: "info",
      logFormat: "json",
      shutdownTimeoutMs: 10_000,
      transport: "native",
      limits: {},
    });
  });

  it("reads every flag", () => {
    const c = config([
      "--services",
      "stats",
      "--host",
      "::1",
      "--sessions-port",
      "0",
      "--stats-port",
      "5000",
      "--tls-cert",
      "s.crt",
      "--tls-key",
      "s.key",
      "--tls-client-ca",
      "c.crt",
      "--backend",
      "memory",
      "--max-sessions",
      "2048",
      "--tcp-idle-timeout",
      "1.5",
      "--udp-idle-timeout",
      "0.25",
      "--traffic",
      "off",
      "--seed",
      "-42",
      "--log-level",
      "debug",
      "--shutdown-timeout",
      "0.5",
      "--transport",
      "grpc-js",
      "--max-connections",
      "50",
      "--max-concurrent-streams",
      "20",
      "--max-header-list-size",
      "8192",
      "--max-resets-per-second",
      "100",
      "--max-empty-frames-per-second",
      "300",
      "--max-queued-bytes",
      "1048576",
      "--max-held-request-bytes",
      "8388608",
      "--connection-idle-timeout",
      "0",
      "--keepalive-interval",
      "60",
      "--keepalive-timeout",
      "2.5",
      "--log-format",
      "pretty",
      "--metrics-port",
      "9464",
      "--metrics-host",
      "0.0.0.0",
    ]);
    expect(c).toEqual({
      services: ["stats"],
      host: "::1",
      sessionsPort: 0,
      statsPort: 5000,
      tls: { mode: "files", certPath: "s.crt", keyPath: "s.key", clientCaPath: "c.crt" },
      backend: {
        kind: "memory",
        maxSessions: 2048,
        tcpIdleTimeoutMs: 1500,
        udpIdleTimeoutMs: 250,
        traffic: false,
        seed: -42,
      },
      logLevel: "debug",
      logFormat: "pretty",
      metrics: { host: "0.0.0.0", port: 9464 },
      shutdownTimeoutMs: 500,
      transport: "grpc-js",
      limits: {
        maxConnections: 50,
        maxConcurrentStreams: 20,
        maxHeaderListBytes: 8192,
        maxResetsPerWindow: 100,
        maxEmptyFramesPerWindow: 300,
        maxQueuedBytes: 1048576,
        maxHeldRequestBytes: 8388608,
        idleTimeoutMs: 0,
        keepaliveIntervalMs: 60_000,
        keepaliveTimeoutMs: 2500,
      },
    });
  });

  it("plaintext only with --insecure; --tls-dir and OFFLOAD_TLS_DIR for the development CA", () => {
    expect(config(["--insecure"]).tls).toEqual({ mode: "insecure" });
    expect(config(["--tls-dir", "/x"]).tls).toEqual({ mode: "dev", dev: { dir: "/x" }, clientCaPath: undefined });
    const parsed = parseCommandLine([], { env: { OFFLOAD_TLS_DIR: "/y" } });
    expect(parsed.kind === "run" && parsed.config.tls).toEqual({
      mode: "dev",
      dev: { dir: undefined, env: { OFFLOAD_TLS_DIR: "/y" } },
      clientCaPath: undefined,
    });
  });

  it("the backend defaults to memory for one process hosting both services, else to the shared sqlite file", () => {
    expect(config([]).backend.kind).toBe("memory");
    expect(config(["--services", "sessions"]).backend).toMatchObject({ kind: "sqlite", dbPath: ".offload/switch.db" });
    expect(config(["--services", "stats", "--db", "/tmp/t.db"]).backend).toMatchObject({
      kind: "sqlite",
      dbPath: "/tmp/t.db",
    });
    const parsed = parseCommandLine(["--backend", "sqlite"], {
      writeOut: () => undefined,
      env: { OFFLOAD_DB: "e.db" },
    });
    expect(parsed.kind === "run" && parsed.config.backend.dbPath).toBe("e.db");
    expect(config(["--backend", "nftables", "--netns", "sw"]).backend).toMatchObject({ kind: "nftables", netns: "sw" });
    expect(config(["--services", "sessions"]).backend.dbSync).toBe("full");
    expect(config(["--services", "sessions", "--db-sync", "normal"]).backend.dbSync).toBe("normal");
  });

  it("--services dedupes and keeps the order given", () => {
    expect(config(["--services", "stats,sessions,stats"]).services).toEqual(["stats", "sessions"]);
  });

  it.each([
    [["--sessions-port", "65536"], "--sessions-port"],
    [["--sessions-port", "-1"], "--sessions-port"],
    [["--stats-port", "abc"], "--stats-port"],
    [["--stats-port", ""], "--stats-port"],
    [["--sessions-port", "1.5"], "--sessions-port"],
    [["--services", "sessions,bogus"], 'unknown service "bogus"'],
    [["--services", ""], "--services"],
    [["--traffic", "maybe"], "--traffic"],
    [["--max-sessions", "0"], "--max-sessions"],
    [["--max-sessions", "1e99"], "--max-sessions"],
    [["--tcp-idle-timeout", "0"], "--tcp-idle-timeout"],
    [["--udp-idle-timeout", "-3"], "--udp-idle-timeout"],
    [["--udp-idle-timeout", "NaN"], "--udp-idle-timeout"],
    [["--seed", "1.5"], "--seed"],
    [["--log-level", "loud"], "--log-level"],
    [["--backend", "tofu"], "--backend"],
    [["--host", ""], "--host"],
    [["--bogus"], "unknown option '--bogus'"],
    [["extra"], "too many arguments"],
    [["--insecure", "--tls-cert", "a", "--tls-key", "b"], "--insecure cannot be combined with --tls-cert, --tls-key"],
    [["--insecure", "--tls-client-ca", "a"], "--insecure cannot be combined with --tls-client-ca"],
    [["--tls-cert", "a"], "--tls-cert needs --tls-key"],
    [["--tls-key", "a"], "--tls-key needs --tls-cert"],
    [["--tls-cert", "a", "--tls-key", "b", "--tls-dir", "c"], "--tls-dir"],
    [["--sessions-port", "5000", "--stats-port", "5000"], "each service needs its own port"],
    [["--backend", "memory", "--db", "x.db"], "--db is for --backend sqlite"],
    [["--db", "x.db"], "--db is for --backend sqlite, not memory"],
    [["--backend", "sqlite", "--netns", "ns1"], "--netns is for --backend nftables"],
    [["--backend", "sqlite", "--db", ""], "--db"],
    [["--backend", "sqlite", "--db-sync", "sometimes"], "--db-sync"],
    [["--metrics-port", "65536"], "--metrics-port"],
    [["--metrics-port", "x"], "--metrics-port"],
    [["--metrics-host", "::"], "--metrics-host needs --metrics-port"],
    [["--metrics-port", "0", "--metrics-host", ""], "--metrics-host"],
    [["--log-format", "xml"], "--log-format"],
  ])("refuses %j with one line naming %s", (args, fragment) => {
    expect(usage(args)).toContain(fragment);
  });

  it("allows the same port for a service that is not hosted, and port 0 for both", () => {
    expect(config(["--services", "sessions", "--sessions-port", "5000", "--stats-port", "5000"]).sessionsPort).toBe(
      5000,
    );
    expect(config(["--sessions-port", "0", "--stats-port", "0"]).statsPort).toBe(0);
  });

  it("metrics are off unless --metrics-port is given; --metrics-host defaults to 127.0.0.1", () => {
    expect(config([]).metrics).toBeUndefined();
    expect(config(["--metrics-port", "0"]).metrics).toEqual({ host: "127.0.0.1", port: 0 });
  });

  it("--version prints the package's version and runs nothing", () => {
    let text = "";
    expect(parseCommandLine(["--version"], { writeOut: (t) => (text += t) })).toEqual({ kind: "shown" });
    const { version } = JSON.parse(readFileSync(join(__dirname, "../package.json"), "utf8")) as { version: string };
    expect(text).toBe(`${version}\n`);
  });

  it("--help lists every flag and runs nothing", () => {
    let text = "";
    expect(parseCommandLine(["--help"], { writeOut: (t) => (text += t) })).toEqual({ kind: "shown" });
    for (const flag of [
      "--services",
      "--host",
      "--sessions-port",
      "--stats-port",
      "--insecure",
      "--tls-cert",
      "--tls-key",
      "--tls-client-ca",
      "--tls-dir",
      "--backend",
      "--db",
      "--db-sync",
      "--netns",
      "--max-sessions",
      "--tcp-idle-timeout",
      "--udp-idle-timeout",
      "--traffic",
      "--seed",
      "--log-level",
      "--log-format",
      "--metrics-port",
      "--metrics-host",
      "--shutdown-timeout",
      "--version",
    ]) {
      expect(text).toContain(flag);
    }
  });
});

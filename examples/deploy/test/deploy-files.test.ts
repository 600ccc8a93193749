/**
 * The deployment examples (docker cannot run here, so what can be checked is):
 * the systemd unit passes `systemd-analyze verify` without a warning, and the
 * flags that the unit and the container give to offload-server are accepted
 * by the command's own parser and say what the docs say (TLS files, the
 * database path, the metrics endpoint); the Dockerfile's instructions are
 * well-formed and what it copies exists.
 */
import { describe, expect, it } from "@jest/globals";
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseCommandLine, type ReferenceServerConfig } from "@sessionoffload/reference-server";

const here = resolve(__dirname, "..");
const repo = resolve(here, "../..");
const CLI = "packages/reference-server/dist/cli.js";

function config(args: readonly string[]): ReferenceServerConfig {
  const parsed = parseCommandLine(args, { writeOut: () => undefined, env: {} });
  if (parsed.kind !== "run") throw new Error("expected a configuration");
  return parsed.config;
}

function systemdAnalyzeMissing(): string | undefined {
  try {
    execFileSync("systemd-analyze", ["--version"], { stdio: "ignore" });
    return undefined;
  } catch {
    return "needs systemd-analyze (Debian's systemd package)";
  }
}

describe("examples/deploy/offload-server.service", () => {
  const unit = readFileSync(join(here, "offload-server.service"), "utf8");
  const missing = systemdAnalyzeMissing();

  (missing ? it.skip : it)(
    `passes systemd-analyze verify without a warning${missing ? ` (skipped: ${missing})` : ""}`,
    () => {
      const dir = mkdtempSync(join(tmpdir(), "offload-unit-"));
      try {
        copyFileSync(join(here, "offload-server.service"), join(dir, "offload-server.service"));
        const result = spawnSync("systemd-analyze", ["verify", join(dir, "offload-server.service")], {
          encoding: "utf8",
        });
        expect([result.status, result.stderr]).toEqual([0, ""]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it("starts offload-server with flags it accepts: TLS files from systemd's credentials, the table in the state directory", () => {
    const execStart = /^ExecStart=((?:[^\n]*\\\n)*[^\n]*)/m.exec(unit)?.[1]?.replace(/\\\n/g, " ") ?? "";
    const words = execStart.split(/\s+/).filter(Boolean);
    expect(words.slice(0, 4)).toEqual(["/usr/bin/env", "node", "--max-semi-space-size=4", CLI]);
    expect(existsSync(join(repo, "packages/reference-server/src/cli.ts"))).toBe(true);
    const args = words
      .slice(4)
      .filter((w) => w !== "$OFFLOAD_SERVER_ARGS")
      .map((w) => w.replace("%d", "/run/credentials/offload-server.service"));
    const c = config(args);
    expect(c).toMatchObject({
      host: "0.0.0.0",
      backend: { kind: "sqlite", dbPath: "/var/lib/offload-server/switch.db" },
      tls: {
        mode: "files",
        certPath: "/run/credentials/offload-server.service/server.crt",
        keyPath: "/run/credentials/offload-server.service/server.key",
      },
      metrics: { host: "127.0.0.1", port: 9464 },
      shutdownTimeoutMs: 10_000,
    });
    expect(unit).toMatch(/^LoadCredential=server\.crt:/m);
    expect(unit).toMatch(/^LoadCredential=server\.key:/m);
    expect(unit).toMatch(/^StateDirectory=offload-server$/m);
    // systemd waits longer than the server's grace period before it kills.
    expect(Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)?.[1])).toBeGreaterThan(c.shutdownTimeoutMs / 1000);
    expect(unit).toMatch(/^RestartPreventExitStatus=2$/m);
  });
});

describe("examples/deploy/Dockerfile", () => {
  const text = readFileSync(join(here, "Dockerfile"), "utf8");
  // Instructions, with continuation lines joined and comments dropped.
  const instructions = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const space = l.indexOf(" ");
      return { op: l.slice(0, space).toUpperCase(), rest: l.slice(space + 1).trim() };
    });
  const KNOWN = [
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
  ];
  const json = (op: string): string[] => {
    const found = instructions.filter((i) => i.op === op);
    expect(found).toHaveLength(1);
    return JSON.parse(found[0]?.rest ?? "") as string[];
  };

  it("has only known instructions, two stages, and copies only what the repository has", () => {
    expect(instructions.filter((i) => !KNOWN.includes(i.op))).toEqual([]);
    expect(instructions.filter((i) => i.op === "FROM").map((i) => i.rest)).toEqual([
      "node:20-bookworm-slim AS build",
      "node:20-bookworm-slim",
    ]);
    for (const copy of instructions.filter((i) => i.op === "COPY" && !i.rest.startsWith("--from="))) {
      const sources = copy.rest.split(/\s+/).slice(0, -1);
      for (const source of sources) expect([source, existsSync(join(repo, source))]).toEqual([source, true]);
    }
    expect(existsSync(join(repo, ".dockerignore"))).toBe(true);
    expect(readFileSync(join(repo, ".dockerignore"), "utf8")).toMatch(/^\*\*\/node_modules$/m);
  });

  it("runs offload-server as a user, stopped by SIGTERM, with flags it accepts: TLS files as secrets, the table in a volume", () => {
    expect(json("ENTRYPOINT")).toEqual(["node", "--max-semi-space-size=4", CLI]);
    const c = config(json("CMD"));
    expect(c).toMatchObject({
      host: "0.0.0.0",
      backend: { kind: "sqlite", dbPath: "/var/lib/offload-server/switch.db" },
      tls: { mode: "files", certPath: "/run/secrets/server.crt", keyPath: "/run/secrets/server.key" },
      metrics: { host: "0.0.0.0", port: 9464 },
    });
    const exposed = instructions
      .find((i) => i.op === "EXPOSE")
      ?.rest.split(/\s+/)
      .map(Number);
    expect(exposed).toEqual([c.sessionsPort, c.statsPort, c.metrics?.port]);
    expect(instructions.find((i) => i.op === "VOLUME")?.rest).toBe("/var/lib/offload-server");
    expect(instructions.find((i) => i.op === "STOPSIGNAL")?.rest).toBe("SIGTERM");
    expect(instructions.find((i) => i.op === "USER")?.rest).toBe("offload");
  });
});

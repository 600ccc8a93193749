import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCertificateAuthority, issueCertificate } from "../src/certificates";
import { killAll, runCommand, whenReady, type RunningCommand } from "./offload-server-process";

const CTL = join(__dirname, "../dist/offloadctl/offloadctl.js");

let dir: string;
const commands: RunningCommand[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "offloadctl-mtls-"));
});
afterEach(() => killAll(commands));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ctl(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.OFFLOAD_TLS_DIR;
  return new Promise((resolve) =>
    execFile(process.execPath, [CTL, ...args], { cwd: dir, env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : ((err.code as number | undefined) ?? null), stdout, stderr }),
    ),
  );
}

describe("offloadctl with mutual TLS (--ca, --cert, --key)", () => {
  it("a client certificate the server's client CA signed is served; none, or --cert without --key, is refused", async () => {
    const clientCa = createCertificateAuthority({ commonName: "operators CA" });
    const operator = issueCertificate(clientCa, { commonName: "operator-1", usage: "client" });
    writeFileSync(join(dir, "client-ca.crt"), clientCa.certPem);
    writeFileSync(join(dir, "operator.crt"), operator.certPem);
    writeFileSync(join(dir, "operator.key"), operator.keyPem, { mode: 0o600 });
    const running = runCommand(
      ["--sessions-port", "0", "--stats-port", "0", "--tls-client-ca", join(dir, "client-ca.crt")],
      { cwd: dir },
    );
    commands.push(running);
    const server = await whenReady(running);
    expect(server.tls).toBe("mutual");
    const base = [
      "--sessions",
      `localhost:${server.ports.sessions}`,
      "--stats",
      `localhost:${server.ports.stats}`,
      "--ca",
      server.ca as string,
    ];
    const served = await ctl([
      ...base,
      "--cert",
      join(dir, "operator.crt"),
      "--key",
      join(dir, "operator.key"),
      "health",
    ]);
    expect([served.code, served.stderr]).toEqual([0, ""]);
    const refused = await ctl([...base, "get", "1"]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(
      /^offloadctl: error: getSession: UNAVAILABLE: TLS handshake failed, not retried: the server refused the client's certificate/,
    );
    const half = await ctl([...base, "--cert", join(dir, "operator.crt"), "get", "1"]);
    expect(half).toEqual({ code: 2, stdout: "", stderr: "offloadctl: error: --cert needs --key\n" });
    const unreadable = await ctl([
      ...base,
      "--cert",
      join(dir, "nope.crt"),
      "--key",
      join(dir, "operator.key"),
      "get",
      "1",
    ]);
    expect(unreadable.code).toBe(2);
    expect(unreadable.stderr).toMatch(/^offloadctl: error: --cert: cannot read .*nope\.crt/);
  });
});

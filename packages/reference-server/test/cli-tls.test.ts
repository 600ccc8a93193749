import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { createOffloadClient, OffloadError } from "@sessionoffload/offload-api";
import { killAll, runCommand, whenReady, type RunningCommand } from "./offload-server-process";

let workdir: string;
const commands: RunningCommand[] = [];
beforeAll(() => {
  workdir = mkdtempSync(join(tmpdir(), "offload-cli-tls-"));
});
afterEach(() => killAll(commands));
afterAll(() => rmSync(workdir, { recursive: true, force: true }));

function env(): NodeJS.ProcessEnv {
  const e = { ...process.env };
  delete e.OFFLOAD_TLS_DIR;
  return e;
}

// Whether a TLS client that trusts `ca` accepts the server at host:port (by address: no server name sent).
function authorized(host: string, port: number, ca: Buffer): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, ca, servername: "", ALPNProtocols: ["h2"] });
    socket.on("secureConnect", () => {
      resolve(socket.authorized);
      socket.destroy();
    });
    socket.on("error", (err) => (/altnames|certificate/.test(err.message) ? resolve(false) : reject(err)));
  });
}

describe("offload-server development TLS and --host", () => {
  it("--host 127.0.0.2: the development certificate covers it, and a client trusting the CA connects", async () => {
    const running = runCommand(["--host", "127.0.0.2", "--sessions-port", "0", "--stats-port", "0"], {
      cwd: workdir,
      env: env(),
    });
    commands.push(running);
    const server = await whenReady(running);
    const ca = readFileSync(server.ca as string);
    expect(await authorized("127.0.0.2", server.ports.sessions as number, ca)).toBe(true);
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  });

  it("a client of a server whose certificate does not cover the target fails at once, saying why", async () => {
    // The client trusts the CA, but checks the certificate against a name it does not have.
    const running = runCommand(["--sessions-port", "0", "--stats-port", "0"], { cwd: workdir, env: env() });
    commands.push(running);
    const server = await whenReady(running);
    const client = createOffloadClient({
      sessionsAddress: `localhost:${server.ports.sessions}`,
      credentials: { caFile: server.ca as string },
      serverName: "switch.invalid",
    });
    const err = await client.getSession(1n).catch((e: unknown) => e);
    client.close();
    expect(err).toBeInstanceOf(OffloadError);
    expect((err as OffloadError).attempts).toBe(1);
    expect((err as OffloadError).message).toMatch(/not retried: the server's certificate does not name the target/);
  });

  it("exits 2 with one line for a --host that does not resolve", async () => {
    const running = runCommand(["--host", "no-such-host.invalid", "--sessions-port", "0", "--stats-port", "0"], {
      cwd: workdir,
      env: env(),
    });
    commands.push(running);
    expect(await running.exited).toBe(2);
    expect(running.stderr().trim().split("\n")).toEqual([
      expect.stringMatching(/^offload-server: error: --host: cannot resolve no-such-host\.invalid: E[A-Z_]+$/),
    ]);
  });
});

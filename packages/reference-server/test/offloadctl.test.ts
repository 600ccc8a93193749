import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCertificateAuthority } from "../src/certificates";
import { killAll, runCommand, whenReady, type RunningCommand, type StartedServer } from "./offload-server-process";

const CTL = join(__dirname, "../dist/offloadctl/offloadctl.js");
const ISO_NS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;

let workdir: string;
const commands: RunningCommand[] = [];
beforeAll(() => {
  workdir = mkdtempSync(join(tmpdir(), "offloadctl-"));
});
afterEach(() => killAll(commands));
afterAll(() => rmSync(workdir, { recursive: true, force: true }));

interface CtlResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function env(): NodeJS.ProcessEnv {
  const e = { ...process.env };
  delete e.OFFLOAD_TLS_DIR;
  return e;
}

function ctl(args: readonly string[], cwd = workdir): Promise<CtlResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CTL, ...args], { cwd, env: env(), timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

async function startServer(args: string[], cwd = workdir): Promise<StartedServer> {
  const running = runCommand(["--sessions-port", "0", "--stats-port", "0", ...args], { cwd, env: env() });
  commands.push(running);
  return whenReady(running);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const targets = (server: StartedServer) => [
  "--sessions",
  `127.0.0.1:${server.ports.sessions}`,
  "--stats",
  `127.0.0.1:${server.ports.stats}`,
];

const addArgs = (port: number) => [
  "add",
  "--source",
  `10.0.0.1:${port}`,
  "--destination",
  "10.0.0.2:443",
  "--protocol",
  "tcp",
  "--action",
  "forward",
];

const oneLine = (text: string): string[] => text.trim().split("\n");

describe("offloadctl against a real server", () => {
  let server: StartedServer;
  let base: string[];
  beforeAll(async () => {
    const running = runCommand(
      ["--insecure", "--sessions-port", "0", "--stats-port", "0", "--traffic", "off", "--max-sessions", "4"],
      { cwd: workdir, env: env() },
    );
    server = await whenReady(running);
    base = ["--insecure", ...targets(server)];
  });
  afterAll(async () => {
    server.child.kill("SIGTERM");
    await server.exited;
  });

  it("add, get, list, count, delete: text and --json, exit 0 for what was done and 1 for what was refused", async () => {
    const added = await ctl([...base, ...addArgs(1000)]);
    expect(added).toMatchObject({ code: 0, stderr: "" });
    const id = /^accepted: session (\d+)$/.exec(added.stdout.trim())?.[1] as string;
    expect(id).toBeDefined();

    const again = await ctl([...base, ...addArgs(1000), "--json"]);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toEqual({ kind: "alreadyExists", id, afterRetry: false });

    const json = await ctl([
      ...base,
      "add",
      "--source",
      "[2001:db8::1]:40000",
      "--destination",
      "[2001:db8::2]:443",
      "--protocol",
      "udp",
      "--action",
      "mirror",
      "--next-hop",
      "192.0.2.9",
      "--in-lif",
      "eth0",
      "--out-lif",
      "eth1",
      "--json",
    ]);
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout) as { kind: string; id: string; session: Record<string, string> };
    expect(result).toMatchObject({ kind: "accepted", session: { id: result.id, state: "established", inBytes: "0" } });
    expect(result.session.startTime).toMatch(ISO_NS);
    expect(result.session.endTime).toBeUndefined();

    const got = await ctl([...base, "get", id]);
    expect(got.code).toBe(0);
    expect(got.stdout).toContain(`id:          ${id}\nstate:       established\n`);
    const gotJson = JSON.parse((await ctl([...base, "get", id, "--json"])).stdout) as { session: { id: string } };
    expect(gotJson).toMatchObject({ kind: "found", session: { id, closeCode: "notClosed", inPackets: "0" } });

    const listed = await ctl([...base, "list"]);
    expect(listed.code).toBe(0);
    const lines = oneLine(listed.stdout);
    expect(lines[0]).toMatch(/^\s*ID\s+STATE\s+CLOSE\s+IN PKTS/);
    expect(lines.slice(1, -1).map((l) => l.trim().split(/\s+/)[0])).toEqual([id, result.id]);
    expect(lines.at(-1)).toBe("2 sessions");
    const ndjson = oneLine((await ctl([...base, "list", "--json", "--limit", "1"])).stdout).map(
      (l) => JSON.parse(l) as { id: string },
    );
    expect(ndjson.map((s) => s.id)).toEqual([id]);
    expect((await ctl([...base, "count"])).stdout).toBe("2\n");
    expect(JSON.parse((await ctl([...base, "count", "--json"])).stdout)).toEqual({ sessions: 2 });

    const deleted = await ctl([...base, "delete", id, "--json"]);
    expect(deleted.code).toBe(0);
    expect(JSON.parse(deleted.stdout)).toMatchObject({ kind: "found", session: { id, state: "closing1" } });
    expect(JSON.parse(deleted.stdout).session.endTime).toMatch(ISO_NS);
    const gone = await ctl([...base, "get", id]);
    expect(gone).toEqual({ code: 1, stdout: "", stderr: `offloadctl: session ${id}: not found\n` });
    expect(JSON.parse((await ctl([...base, "delete", id, "--json"])).stdout)).toEqual({ kind: "notFound", id });

    for (const port of [1001, 1002, 1003]) await ctl([...base, ...addArgs(port)]);
    const full = await ctl([...base, ...addArgs(1004)]);
    expect(full).toMatchObject({ code: 1, stdout: "table full: the switch has no room for another session\n" });
  });

  it("health: both services SERVING, exit 0; a service that cannot be reached, exit 3", async () => {
    const ok = await ctl([...base, "health"]);
    expect(ok.code).toBe(0);
    expect(oneLine(ok.stdout)).toEqual([
      expect.stringMatching(/^sessions\s+127\.0\.0\.1:\d+\s+sessions\.v1\.SessionTable\s+SERVING$/),
      expect.stringMatching(/^stats\s+127\.0\.0\.1:\d+\s+sessions\.v1\.SessionStatisticsTable\s+SERVING$/),
    ]);
    const down = await ctl([
      "--insecure",
      ...targets(server).slice(0, 2),
      "--stats",
      `127.0.0.1:${await freePort()}`,
      "health",
      "--json",
    ]);
    expect(down.code).toBe(3);
    const answers = oneLine(down.stdout).map((l) => JSON.parse(l) as { server: string; status: string });
    expect(answers.map((a) => [a.server, a.status])).toEqual([
      ["sessions", "SERVING"],
      ["stats", "UNREACHABLE"],
    ]);
  });

  it.each([
    [
      ["add", "--source", "10.0.0:1", "--destination", "10.0.0.2:1", "--protocol", "tcp", "--action", "drop"],
      /--source/,
    ],
    [
      ["add", "--source", "10.0.0.1:0", "--destination", "10.0.0.2:1", "--protocol", "tcp", "--action", "drop"],
      /port 0/,
    ],
    [
      ["add", "--source", "10.0.0.1:1", "--destination", "10.0.0.2:1", "--protocol", "icmp", "--action", "drop"],
      /--protocol/,
    ],
    [
      ["add", "--source", "10.0.0.1:1", "--destination", "[2001:db8::2]:1", "--protocol", "tcp", "--action", "drop"],
      /--destination: is IPv6 but/,
    ],
    [
      ["add", "--source", "10.0.0.1:1", "--destination", "10.0.0.2:1", "--protocol", "tcp", "--action", "mirror"],
      /--next-hop: required/,
    ],
    [["add", "--source", "10.0.0.1:1"], /required option '--destination/],
    [["get", "abc"], /expected a session id/],
    [["get", "0"], /expected a session id/],
    [["get", "18446744073709551616"], /expected a session id/],
    [["get"], /missing required argument 'id'/],
    [["list", "--limit", "-1"], /--limit/],
    [["watch", "--interval", "0"], /--interval/],
    [["frob"], /unknown command 'frob'/],
    [["--ca", "x.pem", "get", "1"], /--insecure cannot be combined with --ca/],
    [["--sessions", "nope", "get", "1"], /--sessions/],
  ])("%j: exit 2, one line on stderr, nothing sent", async (args, message) => {
    const result = await ctl([...base, ...args]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(oneLine(result.stderr)).toEqual([expect.stringMatching(/^offloadctl: error: /)]);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("--help for each subcommand, --version, and help with no subcommand (exit 2)", async () => {
    for (const sub of ["add", "get", "delete", "list", "closed", "count", "watch", "health"]) {
      const help = await ctl([sub, "--help"]);
      expect([sub, help.code]).toEqual([sub, 0]);
      expect(help.stdout).toContain(`Usage: offloadctl ${sub}`);
    }
    expect((await ctl(["--version"])).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    const none = await ctl([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("Usage: offloadctl");
  });

  it("watch without a terminal: frames one after another, no escape codes; exit 0 after --frames", async () => {
    const result = await ctl([...base, "watch", "--interval", "0.2", "--frames", "2", "--top", "3"]);
    expect(result.code).toBe(0);
    const frames = result.stdout.split(/\n(?=offloadctl watch )/);
    expect(frames).toHaveLength(2);
    expect(frames[0]).toMatch(/^offloadctl watch 127\.0\.0\.1:\d+ .*\(every 0\.2 s\)\ntable: +\d+ entries/);
    expect(frames[1]).toMatch(/adds: +\d+\.\d\/s\nended: +finAck \d+\.\d\/s +rst \d+\.\d\/s +timeout \d+\.\d\/s/);
    expect(result.stdout).not.toContain("\x1b");
  });

  it("watch without a terminal stops cleanly on SIGINT", async () => {
    const child = spawn(process.execPath, [CTL, ...base, "watch", "--interval", "0.2"], { cwd: workdir, env: env() });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (out.includes("busiest")) resolve();
      };
      child.stdout.on("data", check);
    });
    child.kill("SIGINT");
    expect(await exited).toBe(0);
  });

  it("watch on a terminal: the alternate screen, q quits and restores the terminal", async () => {
    const script = [
      "import os, pty, select, sys, time",
      "pid, fd = pty.fork()",
      "if pid == 0:",
      "    os.execv(sys.argv[1], sys.argv[1:])",
      "out = b''",
      "sent = False",
      "deadline = time.time() + 30",
      "while time.time() < deadline:",
      "    r, _, _ = select.select([fd], [], [], 0.1)",
      "    if r:",
      "        try:",
      "            data = os.read(fd, 65536)",
      "        except OSError:",
      "            break",
      "        if not data:",
      "            break",
      "        out += data",
      "    if not sent and b'busiest' in out:",
      "        os.write(fd, b'q')",
      "        sent = True",
      "_, status = os.waitpid(pid, 0)",
      "sys.stdout.write(out.decode('utf-8', 'replace'))",
      "sys.exit(os.waitstatus_to_exitcode(status))",
    ].join("\n");
    const result = await new Promise<CtlResult>((resolve) =>
      execFile(
        "/usr/bin/python3",
        ["-c", script, process.execPath, CTL, ...base, "watch", "--interval", "0.2"],
        { cwd: workdir, env: env(), timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr }),
      ),
    );
    expect(result.code).toBe(0);
    expect(result.stdout.startsWith("\x1b[?1049h")).toBe(true);
    expect(result.stdout).toContain("q to quit");
    expect(result.stdout.endsWith("\x1b[?25h\x1b[?1049l")).toBe(true);
  });
});

describe("offloadctl closed", () => {
  it("collects ended sessions once (text and --json); --follow keeps collecting until SIGINT", async () => {
    const server = await startServer(["--insecure", "--traffic", "off", "--tcp-idle-timeout", "0.2"]);
    const base = ["--insecure", ...targets(server)];
    for (const port of [2000, 2001]) expect((await ctl([...base, ...addArgs(port)])).code).toBe(0);
    let collected: Array<{ id: string; state: string; closeCode: string; endTime: string }> = [];
    for (let i = 0; i < 100 && collected.length < 2; i += 1) {
      const result = await ctl([...base, "closed", "--json"]);
      expect(result.code).toBe(0);
      collected = collected.concat(result.stdout.trim() === "" ? [] : oneLine(result.stdout).map((l) => JSON.parse(l)));
      if (collected.length < 2) await new Promise((r) => setTimeout(r, 100));
    }
    expect(collected.map((s) => [s.state, s.closeCode])).toEqual([
      ["closed", "timeout"],
      ["closed", "timeout"],
    ]);
    expect(collected[0]?.endTime).toMatch(ISO_NS);
    expect(await ctl([...base, "closed"])).toEqual({ code: 0, stdout: "", stderr: "" });

    const follow = spawn(process.execPath, [CTL, ...base, "closed", "--follow", "--interval", "0.1"], {
      cwd: workdir,
      env: env(),
    });
    let out = "";
    follow.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => follow.on("close", (code) => resolve(code)));
    expect((await ctl([...base, ...addArgs(2002)])).code).toBe(0);
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (/\n\s+\d+\s+closed\s+timeout/.test(out)) resolve();
      };
      follow.stdout.on("data", check);
      check();
    });
    follow.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(oneLine(out)[0]).toMatch(/^\s*ID\s+STATE/);
  });
});

describe("offloadctl over TLS", () => {
  it("trusts the server's development CA found in ./.offload/tls; a wrong --ca fails at once with a hint (exit 3)", async () => {
    const dir = mkdtempSync(join(workdir, "tls-"));
    const server = await startServer([], dir);
    const ports = ["--sessions", `localhost:${server.ports.sessions}`, "--stats", `localhost:${server.ports.stats}`];
    const health = await ctl([...ports, "health"], dir);
    expect(health.code).toBe(0);
    expect(health.stderr).toBe("");
    const other = join(dir, "other-ca.crt");
    writeFileSync(other, createCertificateAuthority({ commonName: "someone else" }).certPem);
    const wrong = await ctl([...ports, "--ca", other, "get", "1"], dir);
    expect(wrong.code).toBe(3);
    expect(oneLine(wrong.stderr)).toEqual([
      expect.stringMatching(/^offloadctl: error: getSession: UNAVAILABLE: TLS handshake failed, not retried: /),
    ]);
    const none = await ctl([...ports, "get", "1"], workdir); // no dev CA here: the system roots
    expect(none.code).toBe(3);
    expect(none.stderr).toContain("pass the server's CA with --ca");
    expect(none.stderr).not.toContain("DEP0123");
  });

  it("a server that cannot be reached: exit 3, one line", async () => {
    const result = await ctl([
      "--insecure",
      "--sessions",
      `127.0.0.1:${await freePort()}`,
      "--timeout",
      "2",
      "get",
      "1",
    ]);
    expect(result.code).toBe(3);
    expect(oneLine(result.stderr)).toEqual([
      expect.stringMatching(/^offloadctl: error: getSession: cannot reach the server \(connect ECONNREFUSED/),
    ]);
  });
});

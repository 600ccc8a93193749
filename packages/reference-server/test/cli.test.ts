import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { execFileSync, spawn, type ChildProcessByStdio } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { credentials, Metadata, type ChannelCredentials, type ServiceError } from "@grpc/grpc-js";
import { sessionsV1 } from "@sessionoffload/offload-api";
import { kernelSwitchUnavailable } from "@sessionoffload/switch-kernel/conformance";
import { checkHealth, reflect } from "./grpc-tools";

// The built command, as `npm start` and the package's bin run it (`npm run build` first).
const CLI = join(__dirname, "../dist/cli.js");

type Child = ChildProcessByStdio<null, Readable, Readable>;

interface Started {
  readonly child: Child;
  readonly ports: Record<string, number>;
  readonly tls: string;
  readonly ca: string | undefined;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

let workdir: string;
const children: Child[] = [];

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  workdir = mkdtempSync(join(tmpdir(), "offload-cli-"));
});
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});
afterAll(() => rmSync(workdir, { recursive: true, force: true }));

function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OFFLOAD_TLS_DIR;
  return env;
}

function run(args: string[]): {
  child: Child;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: workdir,
    env: childEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

// Starts the command and reads its stdout lines up to "ready".
async function start(args: string[]): Promise<Started> {
  const { child, stdout, stderr, exited } = run(args);
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (stdout().split("\n").includes("ready")) resolve();
    };
    child.stdout.on("data", check);
    exited.then((code) => reject(new Error(`exited ${code} before ready: ${stderr()}`)));
  });
  const ports: Record<string, number> = {};
  let tls = "";
  let ca: string | undefined;
  for (const line of stdout().split("\n")) {
    const listening = /^listening service=(\w+) address=\S+ port=(\d+) tls=(\w+)$/.exec(line);
    if (listening) {
      ports[listening[1] as string] = Number(listening[2]);
      tls = listening[3] as string;
    }
    const trust = /^trust ca=(.+)$/.exec(line);
    if (trust) ca = trust[1];
  }
  return { child, ports, tls, ca, stderr, exited };
}

function unary<Req>(
  client: sessionsV1.SessionTableClient,
  method: "addSession" | "getSession" | "deleteSession",
  request: Req,
): Promise<sessionsV1.sessionResponse> {
  return new Promise((resolve, reject) => {
    const fn = client[method] as unknown as (
      r: Req,
      m: Metadata,
      cb: (e: ServiceError | null, v?: sessionsV1.sessionResponse) => void,
    ) => void;
    fn.call(client, request, new Metadata(), (e, v) => (e ? reject(e) : resolve(v as sessionsV1.sessionResponse)));
  });
}

function collect(stream: NodeJS.ReadableStream): Promise<sessionsV1.sessionResponse[]> {
  const out: sessionsV1.sessionResponse[] = [];
  return new Promise((resolve, reject) => {
    stream.on("data", (m: sessionsV1.sessionResponse) => out.push(m));
    stream.on("end", () => resolve(out));
    stream.on("error", reject);
  });
}

const request = (port: number) =>
  sessionsV1.sessionRequest.fromPartial({
    inLif: "eth0",
    outLif: "eth1",
    ipVersion: sessionsV1.IP_VERSION._IPV4,
    sourceIp: Buffer.from([10, 0, 0, 1]),
    sourcePort: port,
    destinationIp: Buffer.from([10, 0, 0, 2]),
    destinationPort: 443,
    protocolId: sessionsV1.PROTOCOL_ID._TCP,
    action: { actionType: sessionsV1.ACTION_TYPE._FORWARD, actionNextHop: "" },
  });

async function exercise(server: Started, creds: ChannelCredentials): Promise<void> {
  // By name, as TLS clients should connect: grpc-js sends an IP target as the TLS server name (SNI),
  // which RFC 6066 forbids and Node deprecates (DEP0123).
  const sessions = new sessionsV1.SessionTableClient(`localhost:${server.ports.sessions}`, creds);
  const stats = new sessionsV1.SessionStatisticsTableClient(`localhost:${server.ports.stats}`, creds);
  try {
    const a = await unary(sessions, "addSession", request(1000));
    const b = await unary(sessions, "addSession", request(1001));
    expect([a.requestStatus, b.requestStatus]).toEqual([0, 0]);
    expect((await unary(sessions, "getSession", { sessionId: a.sessionId })).sessionId).toBe(a.sessionId);
    const listed = await collect(stats.getAllSessions({ pageSize: 0 }));
    expect(listed.map((m) => m.sessionId)).toEqual([a.sessionId, b.sessionId]);
    expect((await unary(sessions, "deleteSession", { sessionId: a.sessionId })).sessionState).toBe(
      sessionsV1.SESSION_STATE._CLOSING_1,
    );
    // b idles out (--tcp-idle-timeout 0.2, traffic off) and is collected exactly once.
    let closed: sessionsV1.sessionResponse[] = [];
    for (let i = 0; i < 100 && closed.length === 0; i += 1) {
      closed = await collect(stats.getClosedSessions({ pageSize: 0 }));
      if (closed.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(closed.map((m) => [m.sessionId, m.sessionCloseCode])).toEqual([
      [b.sessionId, sessionsV1.SESSION_CLOSE_CODE._TIMEOUT],
    ]);
    expect(await collect(stats.getAllSessions({ pageSize: 0 }))).toEqual([]);
  } finally {
    sessions.close();
    stats.close();
  }
}

const fastIdle = ["--tcp-idle-timeout", "0.2", "--traffic", "off"];

describe("offload-server command", () => {
  it("serves both services with TLS on the ports it prints, and exits 0 on SIGTERM", async () => {
    const server = await start(["--sessions-port", "0", "--stats-port", "0", ...fastIdle]);
    expect(server.tls).toBe("on");
    expect(server.ca).toBe(join(workdir, ".offload/tls/ca.crt"));
    const creds = credentials.createSsl(readFileSync(server.ca as string));
    await exercise(server, creds);
    const sessionsAddress = `localhost:${server.ports.sessions}`;
    expect(await checkHealth(sessionsAddress, creds, "sessions.v1.SessionTable")).toBe("SERVING");
    expect((await reflect(`localhost:${server.ports.stats}`, creds, { listServices: "*" })).services).toEqual([
      "sessions.v1.SessionStatisticsTable",
    ]);
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    const lines = server.stderr().trim().split("\n");
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toContain("stopped");
  });

  it("serves plaintext with --insecure, and SIGINT ends it with exit 0", async () => {
    const server = await start(["--insecure", "--sessions-port", "0", "--stats-port", "0", ...fastIdle]);
    expect(server.tls).toBe("off");
    expect(server.ca).toBeUndefined();
    await exercise(server, credentials.createInsecure());
    server.child.kill("SIGINT");
    expect(await server.exited).toBe(0);
  });

  it("on SIGTERM ends an open stream and still exits 0", async () => {
    const server = await start(["--insecure", "--sessions-port", "0", "--stats-port", "0", "--traffic", "off"]);
    const creds = credentials.createInsecure();
    const sessions = new sessionsV1.SessionTableClient(`127.0.0.1:${server.ports.sessions}`, creds);
    const stats = new sessionsV1.SessionStatisticsTableClient(`127.0.0.1:${server.ports.stats}`, creds);
    try {
      for (let i = 0; i < 3000; i += 1) await unary(sessions, "addSession", request(1024 + i));
      const listing = stats.getAllSessions({ pageSize: 0 });
      let received = 0;
      const done = new Promise<number | undefined>((resolve) => {
        listing.on("data", () => {
          received += 1;
          if (received === 1) {
            listing.pause();
            server.child.kill("SIGTERM");
            setTimeout(() => listing.resume(), 200);
          }
        });
        listing.on("error", (e: ServiceError) => resolve(e.code));
        listing.on("end", () => resolve(0));
      });
      expect([0, 14]).toContain(await done);
      expect(await server.exited).toBe(0);
      expect(received).toBeLessThanOrEqual(3000);
    } finally {
      sessions.close();
      stats.close();
    }
  });

  it("hosts only the services asked for", async () => {
    const server = await start(["--insecure", "--services", "stats", "--stats-port", "0"]);
    expect(Object.keys(server.ports)).toEqual(["stats"]);
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  });

  it.each([
    [["--sessions-port", "99999"], "--sessions-port"],
    [["--traffic", "sometimes"], "--traffic"],
    [["--nope"], "unknown option"],
    [["--insecure", "--tls-cert", "a.crt", "--tls-key", "a.key"], "--insecure cannot be combined"],
    [
      ["--tls-cert", "/nonexistent.crt", "--tls-key", "/nonexistent.key", "--sessions-port", "0", "--stats-port", "0"],
      "--tls-cert: cannot read",
    ],
  ])("exits 2 with one line on stderr for %j", async (args, fragment) => {
    const { exited, stderr, stdout } = run(args);
    expect(await exited).toBe(2);
    expect(stderr().trim().split("\n")).toHaveLength(1);
    expect(stderr()).toContain(fragment);
    expect(stdout()).toBe("");
  });

  it.each([
    ["not ours", "not a database of ours\n"],
    ["corrupt", "SQLite format 3\u0000" + "\u00ff".repeat(200)],
  ])("exits 2 with one line for a --db file that is %s, leaving it untouched", async (_kind, content) => {
    const path = join(workdir, `bad-${Math.random().toString(36).slice(2)}.db`);
    writeFileSync(path, content, "latin1");
    const before = readFileSync(path);
    const { exited, stderr, stdout } = run([
      "--insecure",
      "--backend",
      "sqlite",
      "--db",
      path,
      "--sessions-port",
      "0",
      "--stats-port",
      "0",
    ]);
    expect(await exited).toBe(2);
    expect(stderr().trim().split("\n")).toHaveLength(1);
    expect(stderr()).toContain(path);
    expect(stdout()).toBe("");
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it("runs the original demo's two processes over one --db file: what one adds, the other lists and collects", async () => {
    const db = join(workdir, `shared-${Math.random().toString(36).slice(2)}.db`);
    const common = ["--insecure", "--db", db, "--traffic", "off", "--tcp-idle-timeout", "0.5"];
    const sessionsProc = await start([...common, "--services", "sessions", "--sessions-port", "0"]);
    const statsProc = await start([...common, "--services", "stats", "--stats-port", "0"]);
    const creds = credentials.createInsecure();
    const sessions = new sessionsV1.SessionTableClient(`127.0.0.1:${sessionsProc.ports.sessions}`, creds);
    const stats = new sessionsV1.SessionStatisticsTableClient(`127.0.0.1:${statsProc.ports.stats}`, creds);
    try {
      const added = await unary(sessions, "addSession", request(7000));
      expect(added.requestStatus).toBe(sessionsV1.REQUEST_STATUS._ACCEPTED);
      const listed = await collect(stats.getAllSessions({ pageSize: 0 }));
      expect(listed.map((s) => s.sessionId)).toEqual([added.sessionId]);
      // The idle timeout ends it; the statistics process delivers it once.
      let closed: sessionsV1.sessionResponse[] = [];
      for (let i = 0; i < 100 && closed.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        closed = await collect(stats.getClosedSessions({ pageSize: 0 }));
      }
      expect(closed.map((s) => [s.sessionId, s.sessionCloseCode])).toEqual([
        [added.sessionId, sessionsV1.SESSION_CLOSE_CODE._TIMEOUT],
      ]);
      expect(await collect(stats.getClosedSessions({ pageSize: 0 }))).toEqual([]);
      const gone = await unary(sessions, "getSession", { sessionId: added.sessionId });
      expect(gone.requestStatus).toBe(sessionsV1.REQUEST_STATUS._REJECTED_SESSION_NONEXISTENT);
    } finally {
      sessions.close();
      stats.close();
      sessionsProc.child.kill("SIGTERM");
      statsProc.child.kill("SIGTERM");
    }
    expect(await sessionsProc.exited).toBe(0);
    expect(await statsProc.exited).toBe(0);
  });

  const nftReason = kernelSwitchUnavailable();
  (nftReason ? it.skip : it)(
    `--backend nftables --netns programs the kernel of that namespace, and removes its tables on SIGTERM${nftReason ? ` (skipped: ${nftReason})` : ""}`,
    async () => {
      const netns = `so-cli-${process.pid}`;
      execFileSync("ip", ["netns", "add", netns]);
      try {
        const server = await start([
          "--insecure",
          "--backend",
          "nftables",
          "--netns",
          netns,
          "--sessions-port",
          "0",
          "--stats-port",
          "0",
        ]);
        const sessions = new sessionsV1.SessionTableClient(
          `127.0.0.1:${server.ports.sessions}`,
          credentials.createInsecure(),
        );
        try {
          const added = await unary(sessions, "addSession", request(7100));
          expect(added.requestStatus).toBe(sessionsV1.REQUEST_STATUS._ACCEPTED);
          const tables = execFileSync("ip", ["netns", "exec", netns, "nft", "list", "tables"], { encoding: "utf8" });
          expect(tables).toMatch(/table ip sessionoffload/);
          const got = await unary(sessions, "getSession", { sessionId: added.sessionId });
          expect(got.requestStatus).toBe(sessionsV1.REQUEST_STATUS._ACCEPTED);
        } finally {
          sessions.close();
          server.child.kill("SIGTERM");
        }
        expect(await server.exited).toBe(0);
        expect(execFileSync("ip", ["netns", "exec", netns, "nft", "list", "tables"], { encoding: "utf8" })).toBe("");
      } finally {
        execFileSync("ip", ["netns", "del", netns]);
      }
    },
  );

  it("exits 2 with one line when its port is in use, leaving nothing bound", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const busy = (blocker.address() as { port: number }).port;
    try {
      const { exited, stderr } = run(["--insecure", "--sessions-port", "0", "--stats-port", String(busy)]);
      expect(await exited).toBe(2);
      expect(stderr().trim().split("\n")).toEqual([
        `offload-server: error: cannot listen on 127.0.0.1:${busy} for stats: address already in use`,
      ]);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it("--help lists the flags and exits 0", async () => {
    const { exited, stdout } = run(["--help"]);
    expect(await exited).toBe(0);
    expect(stdout()).toContain("--tls-client-ca");
  });
});

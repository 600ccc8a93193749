/**
 * Interop with gRPC's C core, the HTTP/2 and gRPC code under the original
 * API's C++ and Python clients: Debian's python3-grpcio drives the session
 * and statistics servers over real sockets, on each transport (our own
 * HTTP/2 and grpc-js). The Python side knows no schema; requests are encoded
 * and answers decoded here with the generated codecs.
 */
import { createInsecureCredentials, createTlsCredentials } from "@sessionoffload/server-transport";
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { sessionsV1, type SessionSpec } from "@sessionoffload/offload-api";
import type { OffloadServer, OffloadTransport } from "@sessionoffload/server-transport";
import { createSessionServer } from "@sessionoffload/session-server";
import { createStatsServer } from "@sessionoffload/stats-server";
import { createMemorySwitch, type MemorySwitch } from "@sessionoffload/switch-backend";
import { ensureDevTls, type DevTlsFiles } from "../src";
import { describeWithGrpcCore, GRPC_CORE_PYTHON } from "../../../test/support/grpc-core";

const DRIVER = join(__dirname, "fixtures", "grpc_core_client.py");

const ADD = "/sessions.v1.SessionTable/addSession";
const GET = "/sessions.v1.SessionTable/getSession";
const DELETE = "/sessions.v1.SessionTable/deleteSession";
const ALL = "/sessions.v1.SessionStatisticsTable/getAllSessions";
const CLOSED = "/sessions.v1.SessionStatisticsTable/getClosedSessions";

interface Answer {
  readonly code: string;
  readonly details: string;
  readonly initial: [string, string][];
  readonly trailing: [string, string][];
  readonly response?: string;
  readonly messages?: string[];
  readonly responses?: Answer[];
  readonly error?: string;
}

interface Command {
  readonly op: "unary" | "batch" | "stream";
  readonly method: string;
  readonly request?: Uint8Array;
  readonly requests?: Uint8Array[];
  readonly timeout?: number;
  readonly metadata?: [string, string][];
  readonly gzip?: boolean;
  readonly cancelAfter?: number;
  readonly tls?: { ca: string; serverName: string };
}

/** The Python process, asked one command at a time. */
class CoreClient {
  private readonly child: ChildProcessWithoutNullStreams;
  /** Commands written and not yet answered, in order (the driver answers one line per command, in order). */
  private readonly pending: { resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  private stderr = "";
  private exitCode: number | null | undefined;

  constructor() {
    this.child = spawn(GRPC_CORE_PYTHON, [DRIVER], { stdio: "pipe" });
    this.child.stderr.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    createInterface({ input: this.child.stdout }).on("line", (line) => this.pending.shift()?.resolve(line));
    // One listener for the driver's life (not one per command): its exit fails whatever is still waiting.
    this.child.once("exit", (code) => {
      this.exitCode = code;
      for (const waiter of this.pending.splice(0)) waiter.reject(this.exitError());
    });
  }

  private exitError(): Error {
    return new Error(`driver exited (${this.exitCode}): ${this.stderr}`);
  }

  async run(target: string, command: Command): Promise<Answer> {
    const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");
    const wire = {
      ...command,
      target,
      request: command.request && b64(command.request),
      requests: command.requests?.map(b64),
    };
    const line = await new Promise<string>((resolve, reject) => {
      if (this.exitCode !== undefined) return reject(this.exitError());
      this.pending.push({ resolve, reject });
      this.child.stdin.write(`${JSON.stringify(wire)}\n`);
    });
    const answer = JSON.parse(line) as Answer;
    if (answer.error !== undefined) throw new Error(`driver: ${answer.error}`);
    return answer;
  }

  close(): void {
    this.child.stdin.end();
  }
}

function spec(n: number): SessionSpec {
  return {
    inLif: "eth0",
    outLif: "eth1",
    ipVersion: "ipv4",
    sourceIp: Uint8Array.of(10, 1, (n >> 8) & 255, n & 255),
    sourcePort: 1024 + (n % 60_000),
    destinationIp: Uint8Array.of(192, 0, 2, 80),
    destinationPort: 443,
    protocol: "tcp",
    action: "forward",
    nextHop: "",
  };
}

function addRequest(n: number, overrides: Partial<sessionsV1.sessionRequest> = {}): Uint8Array {
  const s = spec(n);
  return sessionsV1.sessionRequest
    .encode(
      sessionsV1.sessionRequest.fromPartial({
        inLif: s.inLif,
        outLif: s.outLif,
        ipVersion: sessionsV1.IP_VERSION._IPV4,
        sourceIp: Buffer.from(s.sourceIp),
        sourcePort: s.sourcePort,
        destinationIp: Buffer.from(s.destinationIp),
        destinationPort: s.destinationPort,
        protocolId: sessionsV1.PROTOCOL_ID._TCP,
        action: { actionType: sessionsV1.ACTION_TYPE._FORWARD, actionNextHop: "" },
        ...overrides,
      }),
    )
    .finish();
}

const idRequest = (id: bigint): Uint8Array => sessionsV1.sessionId.encode({ sessionId: id }).finish();
const pageRequest = (pageSize: number): Uint8Array => sessionsV1.statisticsRequestArgs.encode({ pageSize }).finish();
const decode = (b64: string | undefined): sessionsV1.sessionResponse =>
  sessionsV1.sessionResponse.decode(Buffer.from(b64 ?? "", "base64"));

const transports: readonly OffloadTransport[] = ["native", "grpc-js"];

describeWithGrpcCore.each(transports)("a gRPC C-core client (python3-grpcio), %s transport", (transport) => {
  let tlsDir: string;
  let dev: DevTlsFiles;
  let backend: MemorySwitch;
  let servers: OffloadServer[];
  let sessions: string;
  let stats: string;
  let tlsSessions: string;
  let core: CoreClient;

  beforeAll(async () => {
    tlsDir = mkdtempSync(join(tmpdir(), "offload-interop-"));
    dev = ensureDevTls({ dir: tlsDir });
    backend = createMemorySwitch({ capacity: 100_000, traffic: false, tickIntervalMs: 0 });
    const insecure = { backend, credentials: createInsecureCredentials(), transport, shutdownTimeoutMs: 2000 };
    const tls = createTlsCredentials({ cert: readFileSync(dev.certPath), key: readFileSync(dev.keyPath) });
    servers = [
      createSessionServer(insecure),
      createStatsServer(insecure),
      createSessionServer({ ...insecure, credentials: tls }),
    ];
    const ports = await Promise.all(servers.map((s) => s.listen("127.0.0.1:0")));
    [sessions, stats, tlsSessions] = ports.map((p) => `127.0.0.1:${p}`) as [string, string, string];
    expect(servers.map((s) => s.transport)).toEqual([transport, transport, transport]);
    core = new CoreClient();
  });

  afterAll(async () => {
    core.close();
    await Promise.all(servers.map((s) => s.shutdown()));
    backend.close();
    rmSync(tlsDir, { recursive: true, force: true });
  });

  it("adds, gets and deletes a session", async () => {
    const added = await core.run(sessions, { op: "unary", method: ADD, request: addRequest(1) });
    expect(added.code).toBe("OK");
    const response = decode(added.response);
    expect(response.requestStatus).toBe(sessionsV1.REQUEST_STATUS._ACCEPTED);
    const id = response.sessionId;
    expect(backend.get(id)?.state).toBe("established");

    const got = decode((await core.run(sessions, { op: "unary", method: GET, request: idRequest(id) })).response);
    expect(got).toMatchObject({ sessionId: id, sessionState: sessionsV1.SESSION_STATE._ESTABLISHED });
    expect(Number(got.startTime?.seconds)).toBeGreaterThan(1_700_000_000);

    const again = decode((await core.run(sessions, { op: "unary", method: ADD, request: addRequest(1) })).response);
    expect(again.requestStatus).toBe(sessionsV1.REQUEST_STATUS._REJECTED_SESSION_ALREADY_EXISTS);

    const deleted = decode(
      (await core.run(sessions, { op: "unary", method: DELETE, request: idRequest(id) })).response,
    );
    expect(deleted).toMatchObject({ sessionId: id, sessionState: sessionsV1.SESSION_STATE._CLOSING_1 });
    const gone = decode(
      (await core.run(sessions, { op: "unary", method: GET, request: idRequest(2n ** 64n - 1n) })).response,
    );
    expect(gone.requestStatus).toBe(sessionsV1.REQUEST_STATUS._REJECTED_SESSION_NONEXISTENT);
  });

  it("keeps 200 calls in flight on one connection", async () => {
    const before = backend.size();
    const requests = Array.from({ length: 200 }, (_, i) => addRequest(1000 + i));
    const { responses } = await core.run(sessions, { op: "batch", method: ADD, requests });
    expect(responses?.map((r) => r.code)).toEqual(requests.map(() => "OK"));
    const ids = (responses ?? []).map((r) => decode(r.response).sessionId);
    expect(new Set(ids).size).toBe(200);
    expect(ids.every((id) => backend.get(id)?.state === "established")).toBe(true);
    expect(backend.size()).toBe(before + 200);
  });

  it("gets INVALID_ARGUMENT naming the field for a bad address, and UNIMPLEMENTED for an unknown method", async () => {
    const bad = await core.run(sessions, {
      op: "unary",
      method: ADD,
      request: addRequest(2, { sourceIp: Buffer.from([10, 0, 0]) }),
    });
    expect(bad.code).toBe("INVALID_ARGUMENT");
    expect(bad.details).toMatch(/sourceIp/);
    const unknown = await core.run(sessions, {
      op: "unary",
      method: "/sessions.v1.SessionTable/nope",
      request: idRequest(1n),
    });
    expect(unknown.code).toBe("UNIMPLEMENTED");
  });

  it("sends gzip-compressed requests and large metadata (HEADERS with CONTINUATION)", async () => {
    const zipped = await core.run(sessions, { op: "unary", method: ADD, request: addRequest(3), gzip: true });
    expect(zipped.code).toBe("OK");
    expect(decode(zipped.response).requestStatus).toBe(sessionsV1.REQUEST_STATUS._ACCEPTED);
    const big = await core.run(sessions, {
      op: "unary",
      method: ADD,
      request: addRequest(4),
      metadata: [["x-interop-pad", "p".repeat(20_000)]],
    });
    expect(big.code).toBe("OK");
    expect(decode(big.response).requestStatus).toBe(sessionsV1.REQUEST_STATUS._ACCEPTED);
  });

  it("talks TLS with ALPN h2", async () => {
    const tls = { ca: readFileSync(dev.caCertPath, "utf8"), serverName: "localhost" };
    const answer = await core.run(tlsSessions, { op: "unary", method: ADD, request: addRequest(5), tls });
    expect(answer.code).toBe("OK");
    expect(decode(answer.response).requestStatus).toBe(sessionsV1.REQUEST_STATUS._ACCEPTED);
  });

  it("streams a 20,000-session table in id order, through flow control", async () => {
    for (let n = 10_000; backend.size() < 20_000; n++) backend.add(spec(n));
    const answer = await core.run(stats, { op: "stream", method: ALL, request: pageRequest(0), timeout: 60 });
    expect(answer.code).toBe("OK");
    const ids = (answer.messages ?? []).map((m) => decode(m).sessionId);
    expect(ids).toHaveLength(backend.size());
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const paged = await core.run(stats, { op: "stream", method: ALL, request: pageRequest(7) });
    expect(paged.messages?.map((m) => decode(m).sessionId)).toEqual(ids.slice(0, 7));
  });

  it("cancels a stream and misses its deadline, and the server goes on serving", async () => {
    const cancelled = await core.run(stats, { op: "stream", method: ALL, request: pageRequest(0), cancelAfter: 3 });
    expect(cancelled.code).toBe("CANCELLED");
    expect(cancelled.messages?.length).toBeGreaterThanOrEqual(3);
    const late = await core.run(stats, { op: "stream", method: ALL, request: pageRequest(0), timeout: 0.001 });
    expect(late.code).toBe("DEADLINE_EXCEEDED");
    const after = await core.run(stats, { op: "stream", method: ALL, request: pageRequest(2) });
    expect(after.code).toBe("OK");
    expect(after.messages).toHaveLength(2);
  });

  it("collects closed sessions exactly once across pages", async () => {
    const ended = [...backend.sessions()]
      .filter((s) => s.state === "established")
      .slice(0, 50)
      .map((s) => s.id);
    for (const id of ended) backend.endSession(id, "rst");
    const first = await core.run(stats, { op: "stream", method: CLOSED, request: pageRequest(10) });
    const rest = await core.run(stats, { op: "stream", method: CLOSED, request: pageRequest(0) });
    expect([first.code, rest.code]).toEqual(["OK", "OK"]);
    const got = [...(first.messages ?? []), ...(rest.messages ?? [])].map(decode);
    expect(first.messages).toHaveLength(10);
    expect(got.map((s) => s.sessionId).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(ended);
    expect(got.every((s) => s.sessionCloseCode === sessionsV1.SESSION_CLOSE_CODE._RST)).toBe(true);
    const none = await core.run(stats, { op: "stream", method: CLOSED, request: pageRequest(0) });
    expect(none.messages).toEqual([]);
  });

  it("reaches the health service on the same port", async () => {
    const health = await core.run(sessions, {
      op: "unary",
      method: "/grpc.health.v1.Health/Check",
      request: Buffer.from([0x0a, 0x00]),
    });
    expect(health.code).toBe("OK");
    expect(Buffer.from(health.response ?? "", "base64")).toEqual(Buffer.from([0x08, 0x01])); // SERVING
  });
});

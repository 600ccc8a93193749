/**
 * The typed client against a server on gRPC's C core (Debian's
 * python3-grpcio: the gRPC code under the C++ and Python servers of the
 * original API), over a real socket. The Python server is scripted with
 * answers encoded here and reports the request bytes it got, so the test
 * checks both directions of the wire: what the client sends, and how it
 * reads a foreign server's answers, statuses and streams.
 */
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { status } from "@grpc/grpc-js";
import { createOffloadClient, OffloadError, sessionsV1, UINT64_MAX, type OffloadClient } from "../src";
import { tcpSession } from "./client-fixtures";
import { describeWithGrpcCore, GRPC_CORE_PYTHON } from "../../../test/support/grpc-core";

const SERVER = join(__dirname, "fixtures", "grpc_core_server.py");

const TABLE = "/sessions.v1.SessionTable/";
const STATS = "/sessions.v1.SessionStatisticsTable/";

/** A scripted answer: a message or messages, then a status. */
interface Answer {
  readonly response?: Uint8Array;
  readonly messages?: readonly Uint8Array[];
  readonly code?: keyof typeof status;
  readonly details?: string;
}

/** The Python server process: `script` queues answers, `received` lists requests. */
class CoreServer {
  private readonly pending: ((line: string) => void)[] = [];
  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on("line", (line) => this.pending.shift()?.(line));
  }

  static async start(): Promise<{ server: CoreServer; port: number }> {
    const child = spawn(GRPC_CORE_PYTHON, [SERVER], { stdio: "pipe" });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const server = new CoreServer(child);
    const first = await new Promise<string>((resolve, reject) => {
      server.pending.push(resolve);
      child.once("exit", (code) => reject(new Error(`grpc_core_server.py exited (${code}): ${stderr}`)));
    });
    const port = Number(/^port (\d+)$/.exec(first)?.[1]);
    if (!Number.isInteger(port) || port <= 0) throw new Error(`unexpected first line: ${first}`);
    return { server, port };
  }

  private ask(command: object): Promise<string> {
    return new Promise<string>((resolve) => {
      this.pending.push(resolve);
      this.child.stdin.write(`${JSON.stringify(command)}\n`);
    });
  }

  async script(method: string, answers: readonly Answer[]): Promise<void> {
    const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");
    await this.ask({
      op: "script",
      method,
      answers: answers.map((a) => ({
        response: a.response && b64(a.response),
        messages: a.messages?.map(b64),
        code: a.code,
        details: a.details,
      })),
    });
  }

  /** The request bytes of every call of `method` so far. */
  async received(method: string): Promise<Buffer[]> {
    const { received } = JSON.parse(await this.ask({ op: "received" })) as { received: [string, string][] };
    return received.filter(([m]) => m === method).map(([, b64]) => Buffer.from(b64, "base64"));
  }

  stop(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}

const response = (fields: Partial<sessionsV1.sessionResponse>): Uint8Array =>
  sessionsV1.sessionResponse.encode(sessionsV1.sessionResponse.fromPartial(fields)).finish();

describeWithGrpcCore("the client against a gRPC C-core server (python3-grpcio)", () => {
  let core: CoreServer;
  let client: OffloadClient;
  beforeAll(async () => {
    const started = await CoreServer.start();
    core = started.server;
    const address = `127.0.0.1:${started.port}`;
    client = createOffloadClient({
      sessionsAddress: address,
      statsAddress: address,
      credentials: { insecure: true },
      retry: { initialBackoffMs: 10, maxBackoffMs: 20 },
    });
  });
  afterAll(() => {
    client.close();
    core.stop();
  });

  it("sends addSession as the schema says and reads a 64-bit id and timestamp back", async () => {
    await core.script(`${TABLE}addSession`, [
      {
        response: response({
          sessionId: UINT64_MAX,
          requestStatus: sessionsV1.REQUEST_STATUS._ACCEPTED,
          sessionState: sessionsV1.SESSION_STATE._ESTABLISHED,
          startTime: { seconds: 1_790_000_000n, nanos: 123_456_789 },
        }),
      },
    ]);
    const result = await client.addSession(tcpSession(7, { sourceIp: "2001:db8::7", destinationIp: "2001:db8::1" }));
    expect(result.kind).toBe("accepted");
    if (result.kind !== "accepted") return;
    expect(result.id).toBe(UINT64_MAX);
    expect(result.session.startTime).toBe(1_790_000_000_123_456_789n);

    const [sent] = await core.received(`${TABLE}addSession`);
    const request = sessionsV1.sessionRequest.decode(sent ?? Buffer.alloc(0));
    expect(request).toMatchObject({
      ipVersion: sessionsV1.IP_VERSION._IPV6,
      sourcePort: 1024 + 7,
      destinationPort: 443,
      protocolId: sessionsV1.PROTOCOL_ID._TCP,
      action: { actionType: sessionsV1.ACTION_TYPE._FORWARD },
    });
    expect(Buffer.from(request.sourceIp)).toEqual(Buffer.from("20010db8000000000000000000000007", "hex"));
  });

  it("maps the server's request statuses to results", async () => {
    await core.script(`${TABLE}addSession`, [
      { response: response({ requestStatus: sessionsV1.REQUEST_STATUS._REJECTED_SESSION_TABLE_FULL }) },
      {
        response: response({
          sessionId: 42n,
          requestStatus: sessionsV1.REQUEST_STATUS._REJECTED_SESSION_ALREADY_EXISTS,
        }),
      },
    ]);
    expect(await client.addSession(tcpSession(8))).toEqual({ kind: "tableFull" });
    expect(await client.addSession(tcpSession(8))).toEqual({ kind: "alreadyExists", id: 42n, afterRetry: false });

    await core.script(`${TABLE}getSession`, [
      { response: response({ requestStatus: sessionsV1.REQUEST_STATUS._REJECTED_SESSION_NONEXISTENT }) },
    ]);
    expect(await client.getSession(5n)).toEqual({ kind: "notFound" });
    const [asked] = await core.received(`${TABLE}getSession`);
    expect(sessionsV1.sessionId.decode(asked ?? Buffer.alloc(0)).sessionId).toBe(5n);
  });

  it("retries getSession after UNAVAILABLE and reports other statuses as OffloadError", async () => {
    const before = (await core.received(`${TABLE}getSession`)).length;
    await core.script(`${TABLE}getSession`, [
      { code: "UNAVAILABLE", details: "switch restarting" },
      { response: response({ sessionId: 9n, inPackets: UINT64_MAX, sessionCloseCode: 0 }) },
    ]);
    const found = await client.getSession(9n);
    expect(found.kind === "found" ? found.session.inPackets : undefined).toBe(UINT64_MAX);
    expect((await core.received(`${TABLE}getSession`)).length - before).toBe(2); // the failed call and its retry

    await core.script(`${TABLE}deleteSession`, [
      { code: "INVALID_ARGUMENT", details: "sessionId: 0 is not a session id" },
    ]);
    const err = await client.deleteSession(1n).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OffloadError);
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, details: "sessionId: 0 is not a session id" });
  });

  it("reads a long stream, and a stream that ends with an error after some messages", async () => {
    const messages = Array.from({ length: 2000 }, (_, i) =>
      response({ sessionId: BigInt(i + 1), outBytes: BigInt(i) * 1_000_000_007n }),
    );
    await core.script(`${STATS}getAllSessions`, [{ messages }]);
    const ids: bigint[] = [];
    let last: bigint | undefined;
    for await (const s of client.getAllSessions()) {
      ids.push(s.id);
      last = s.outBytes;
    }
    expect(ids).toEqual(messages.map((_, i) => BigInt(i + 1)));
    expect(last).toBe(1999n * 1_000_000_007n);

    await core.script(`${STATS}getClosedSessions`, [
      {
        messages: [1n, 2n, 3n].map((id) =>
          response({
            sessionId: id,
            sessionState: sessionsV1.SESSION_STATE._CLOSED,
            sessionCloseCode: sessionsV1.SESSION_CLOSE_CODE._FINACK,
          }),
        ),
        code: "INTERNAL",
        details: "store failed",
      },
    ]);
    const closed: bigint[] = [];
    const ended = await (async () => {
      for await (const s of client.getClosedSessions({ pageSize: 10 })) closed.push(s.id);
    })().catch((e: unknown) => e);
    expect(closed).toEqual([1n, 2n, 3n]);
    expect(ended).toMatchObject({ code: status.INTERNAL, details: "store failed" });
    const [args] = await core.received(`${STATS}getClosedSessions`);
    expect(sessionsV1.statisticsRequestArgs.decode(args ?? Buffer.alloc(0)).pageSize).toBe(10);
  });
});

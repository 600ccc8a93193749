import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import path from "node:path";
import { credentials } from "@grpc/grpc-js";
import { sessionsV1 } from "@sessionoffload/offload-api";
import { createSqliteSwitch, type SqliteSwitch } from "../src";
import { makeTempDir, removeTempDir, startFixture, type FixtureProcess } from "./fixtures/sqlite-helpers";

const { REQUEST_STATUS, SESSION_STATE, SESSION_CLOSE_CODE } = sessionsV1;

function request(i: number): sessionsV1.sessionRequest {
  return sessionsV1.sessionRequest.fromPartial({
    inLif: "eth0",
    outLif: "eth1",
    ipVersion: sessionsV1.IP_VERSION._IPV4,
    sourceIp: Buffer.from([10, (i >>> 16) & 255, (i >>> 8) & 255, i & 255]),
    sourcePort: 40000,
    destinationIp: Buffer.from([192, 0, 2, 1]),
    destinationPort: 443,
    protocolId: sessionsV1.PROTOCOL_ID._TCP,
    action: { actionType: sessionsV1.ACTION_TYPE._FORWARD, actionNextHop: "" },
  });
}

type Unary<Req> = (req: Req, cb: (err: Error | null, res?: sessionsV1.sessionResponse) => void) => unknown;
function unary<Req>(call: Unary<Req>, req: Req): Promise<sessionsV1.sessionResponse> {
  return new Promise((resolve, reject) =>
    call(req, (err, res) =>
      err !== null || res === undefined ? reject(err ?? new Error("no response")) : resolve(res),
    ),
  );
}

async function stream(readable: AsyncIterable<sessionsV1.sessionResponse>): Promise<sessionsV1.sessionResponse[]> {
  const out: sessionsV1.sessionResponse[] = [];
  for await (const message of readable) out.push(message);
  return out;
}

describe("sessions and statistics servers in separate processes over one SQLite switch file", () => {
  let dir: string;
  let file: string;
  let servers: FixtureProcess[] = [];
  const clients: { close(): void }[] = [];
  let local: SqliteSwitch | undefined;

  async function startServer(role: "sessions" | "stats"): Promise<{ process: FixtureProcess; target: string }> {
    const server = startFixture("sqlite-server.ts", [role, file]);
    servers.push(server);
    const line = await server.waitFor((l) => l.startsWith("port "));
    return { process: server, target: `127.0.0.1:${line.slice(5)}` };
  }
  function sessionsClient(target: string): sessionsV1.SessionTableClient {
    const client = new sessionsV1.SessionTableClient(target, credentials.createInsecure());
    clients.push(client);
    return client;
  }
  function statsClient(target: string): sessionsV1.SessionStatisticsTableClient {
    const client = new sessionsV1.SessionStatisticsTableClient(target, credentials.createInsecure());
    clients.push(client);
    return client;
  }

  beforeEach(() => {
    dir = makeTempDir();
    file = path.join(dir, "switch.db");
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    local?.close();
    local = undefined;
    for (const server of servers)
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.stdin.end();
    await Promise.all(servers.map((server) => server.exited));
    servers = [];
    removeTempDir(dir);
  });

  it("adds through one process, lists, updates and collects exactly once through the others", async () => {
    const [sessionsServer, statsA, statsB] = await Promise.all([
      startServer("sessions"),
      startServer("stats"),
      startServer("stats"),
    ]);
    const table = sessionsClient(sessionsServer.target);
    const add = (r: sessionsV1.sessionRequest) => unary(table.addSession.bind(table), r);
    const added = await Promise.all(Array.from({ length: 120 }, (_, i) => add(request(i))));
    expect(added.every((r) => r.requestStatus === REQUEST_STATUS._ACCEPTED)).toBe(true);
    const ids = added.map((r) => r.sessionId);

    const listed = await stream(statsClient(statsA.target).getAllSessions({ pageSize: 0 }));
    expect(listed.map((r) => r.sessionId)).toEqual(ids.slice().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));

    // The data plane (this process) counts traffic and ends 100 of them; 10 are deleted through the sessions server.
    local = createSqliteSwitch({ path: file, traffic: false, tickIntervalMs: 0 });
    const ended = ids.slice(0, 100);
    for (const id of ended) {
      local.addTraffic(id, { inPackets: 3n, outPackets: 2n, inBytes: 300n, outBytes: 200n });
      local.endSession(id, "finAck");
    }
    const deleted = ids.slice(100, 110);
    for (const id of deleted) {
      const answer = await unary(table.deleteSession.bind(table), { sessionId: id });
      expect(answer).toMatchObject({ requestStatus: REQUEST_STATUS._ACCEPTED, sessionState: SESSION_STATE._CLOSING_1 });
    }
    const seen = await unary(table.getSession.bind(table), { sessionId: ended[0] ?? 0n });
    expect(seen).toMatchObject({
      sessionState: SESSION_STATE._CLOSED,
      sessionCloseCode: SESSION_CLOSE_CODE._FINACK,
      inPackets: 3n,
      outBytes: 200n,
    });

    // Two statistics processes collect at the same time: every ended session once, across both.
    const [fromA, fromB] = await Promise.all([
      stream(statsClient(statsA.target).getClosedSessions({ pageSize: 0 })),
      stream(statsClient(statsB.target).getClosedSessions({ pageSize: 0 })),
    ]);
    const collected = [...fromA, ...fromB].map((r) => r.sessionId);
    expect(collected).toHaveLength(ended.length);
    expect(new Set(collected)).toEqual(new Set(ended));
    expect(await stream(statsClient(statsA.target).getClosedSessions({ pageSize: 0 }))).toEqual([]);
    const left = await stream(statsClient(statsB.target).getAllSessions({ pageSize: 0 }));
    expect(left.map((r) => r.sessionId)).toEqual(ids.slice(110));
  });

  it("a sessions server killed with SIGKILL mid-stream of adds: the restarted one has every acknowledged session", async () => {
    const first = await startServer("sessions");
    const table = sessionsClient(first.target);
    const acked: bigint[] = [];
    let next = 0;
    let killed = false;
    const worker = async (): Promise<void> => {
      while (!killed) {
        const i = next++;
        try {
          const answer = await unary(table.addSession.bind(table), request(i));
          if (answer.requestStatus === REQUEST_STATUS._ACCEPTED) acked.push(answer.sessionId);
        } catch {
          return; // the server is gone: this add was never acknowledged
        }
        if (acked.length >= 1500 && !killed) {
          killed = true;
          first.process.child.kill("SIGKILL");
        }
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    expect(await first.process.exited).toBe("SIGKILL");
    expect(acked.length).toBeGreaterThanOrEqual(1500);

    const second = await startServer("sessions");
    const again = sessionsClient(second.target);
    const answers = await Promise.all(acked.map((id) => unary(again.getSession.bind(again), { sessionId: id })));
    const missing = answers.filter((a) => a.requestStatus !== REQUEST_STATUS._ACCEPTED);
    expect(missing).toEqual([]);
    // Ids go on after the highest one committed, never reusing one.
    const fresh = await unary(again.addSession.bind(again), request(1_000_000));
    const highest = acked.reduce((a, b) => (a > b ? a : b));
    expect(fresh.sessionId > highest).toBe(true);
  });
});

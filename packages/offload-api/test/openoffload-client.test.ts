import { afterEach, describe, expect, it } from "@jest/globals";
import { Server, ServerCredentials, status } from "@grpc/grpc-js";
import { createOpenOffloadHandlers } from "@sessionoffload/session-server";
import { createMemorySwitch } from "@sessionoffload/switch-backend";
import {
  createOpenOffloadClient,
  OffloadError,
  openoffloadV1,
  ValidationError,
  type OpenOffloadClient,
  type OpenOffloadClientOptions,
  type OpenOffloadSessionInput,
  type Session,
} from "../src";
import { startFixture, tcpSession, type Fixture, type FixtureOptions } from "./client-fixtures";

let fixture: Fixture | undefined;
let client: OpenOffloadClient | undefined;
afterEach(async () => {
  client?.close();
  client = undefined;
  await fixture?.close();
  fixture = undefined;
});

async function start(
  options: FixtureOptions = {},
  clientOptions: OpenOffloadClientOptions = {},
): Promise<{ fixture: Fixture; client: OpenOffloadClient }> {
  fixture = await startFixture(options);
  client = createOpenOffloadClient({
    address: fixture.sessionsAddress,
    credentials: { insecure: true },
    ...clientOptions,
  });
  return { fixture, client };
}

function session(id: bigint, overrides: Partial<OpenOffloadSessionInput> = {}): OpenOffloadSessionInput {
  const n = Number(id % 60000n);
  return {
    id,
    sourceIp: `10.1.${(n >> 8) & 255}.${n & 255}`,
    sourcePort: 1024 + n,
    destinationIp: "192.0.2.80",
    destinationPort: 443,
    protocol: "tcp",
    action: "forward",
    inLif: 3,
    outLif: 4,
    ...overrides,
  };
}

async function collect(iterable: AsyncIterable<Session>): Promise<Session[]> {
  const out: Session[] = [];
  for await (const s of iterable) out.push(s);
  return out;
}

describe("createOpenOffloadClient against a real server", () => {
  it("adds in batches of 64 and answers one result per session, in input order", async () => {
    const { fixture: f, client: c } = await start({ capacity: 150 });
    await c.addSessions([session(5n)]);
    const inputs = Array.from({ length: 160 }, (_, i) => session(BigInt(i + 1)));
    inputs[20] = session(500n, { sourcePort: session(5n).sourcePort, sourceIp: session(5n).sourceIp }); // the 7-tuple of 5
    const results = await c.addSessions(inputs);
    expect(results).toHaveLength(160);
    expect(results[4]).toEqual({ kind: "alreadyExists", id: 5n, afterRetry: false });
    expect(results[20]).toEqual({ kind: "alreadyExists", id: 500n, afterRetry: false });
    expect(results[0]).toEqual({ kind: "accepted", id: 1n });
    const full = results.filter((r) => r.kind === "tableFull");
    expect(full).toHaveLength(160 - 2 - 149);
    expect(results.slice(151).every((r) => r.kind === "tableFull")).toBe(true);
    expect(f.backend.size()).toBe(150);
  });

  it("validates every input before sending anything, naming the index and field", async () => {
    const { fixture: f, client: c } = await start();
    const bad: ReadonlyArray<[Partial<OpenOffloadSessionInput>, RegExp]> = [
      [{ id: 0n }, /^\[1\]\.id:/],
      [{ sourcePort: 0 }, /^\[1\]\.sourcePort:/],
      [{ destinationIp: "2001:db8::1" }, /^\[1\]\.destinationIp:/],
      [{ action: "mirror" }, /^\[1\]\.nextHop:/],
      [{ inLif: 2 ** 31 }, /^\[1\]\.inLif:/],
      [{ idleTimeoutSeconds: -1 }, /^\[1\]\.idleTimeoutSeconds:/],
    ];
    for (const [change, pattern] of bad) {
      await expect(c.addSessions([session(1n), session(2n, change)])).rejects.toThrow(ValidationError);
      await expect(c.addSessions([session(1n), session(2n, change)])).rejects.toThrow(pattern);
    }
    expect(f.backend.size()).toBe(0);
  });

  it("gets and deletes by id, notFound for an unknown id; deletes answer the final counters", async () => {
    const { fixture: f, client: c } = await start();
    await c.addSessions([session(2n ** 40n, { idleTimeoutSeconds: 30 })]);
    f.backend.addTraffic(2n ** 40n, { inPackets: 1n, outPackets: 2n, inBytes: 3n, outBytes: 4n });
    expect(await c.getSession(2n ** 40n)).toMatchObject({ kind: "found", session: { id: 2n ** 40n, inPackets: 1n } });
    expect(await c.getSession(7n)).toEqual({ kind: "notFound" });
    expect(await c.deleteSession(2n ** 40n)).toMatchObject({
      kind: "found",
      session: { id: 2n ** 40n, state: "closing1", outBytes: 4n },
    });
    expect(await c.deleteSession(2n ** 40n)).toEqual({ kind: "notFound" });
  });

  it("walks getAllSessions page by page in id order, first-generation sessions too", async () => {
    const { fixture: f, client: c } = await start();
    await c.addSessions(Array.from({ length: 100 }, (_, i) => session(BigInt(1000 + i * 3))));
    const v1 = await f.client.addSession(tcpSession(1));
    const all = await collect(c.getAllSessions({ pageSize: 7 }));
    const ids = all.map((s) => s.id);
    expect(ids).toHaveLength(101);
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
    if (v1.kind !== "accepted") throw new Error("v1 add not accepted");
    expect(ids).toContain(v1.id);
    expect((await collect(c.getAllSessions({ afterId: 1288n }))).map((s) => s.id)).toEqual([1291n, 1294n, 1297n]);
  });

  it("collects at most pageSize closed sessions, each once", async () => {
    const { fixture: f, client: c } = await start();
    await c.addSessions(Array.from({ length: 10 }, (_, i) => session(BigInt(i + 1))));
    for (let i = 1n; i <= 10n; i++) f.backend.endSession(i, "rst");
    expect((await collect(c.getClosedSessions({ pageSize: 4 }))).map((s) => s.id)).toEqual([1n, 2n, 3n, 4n]);
    expect((await collect(c.getClosedSessions())).map((s) => s.id)).toEqual([5n, 6n, 7n, 8n, 9n, 10n]);
    expect(await collect(c.getClosedSessions())).toEqual([]);
    expect(f.backend.size()).toBe(0);
  });

  it("sends a batch again after UNAVAILABLE: what went in answers alreadyExists with afterRetry", async () => {
    const backend = createMemorySwitch({ capacity: 10, tickIntervalMs: 0, traffic: false });
    const real = createOpenOffloadHandlers({ backend });
    let loseNextAnswer = true;
    const server = new Server();
    server.addService(openoffloadV1.SessionTableService, {
      ...real,
      addSession(call: Parameters<typeof real.addSession>[0], callback: Parameters<typeof real.addSession>[1]) {
        // Applied in the switch, but the answer is lost: the client sees UNAVAILABLE.
        const lose = loseNextAnswer;
        loseNextAnswer = false;
        real.addSession(call, lose ? () => callback({ code: status.UNAVAILABLE, details: "link flapped" }) : callback);
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    try {
      client = createOpenOffloadClient({
        address: `127.0.0.1:${port}`,
        credentials: { insecure: true },
        retry: { initialBackoffMs: 5, maxBackoffMs: 10 },
      });
      const results = await client.addSessions([session(1n), session(2n)]);
      expect(results).toEqual([
        { kind: "alreadyExists", id: 1n, afterRetry: true },
        { kind: "alreadyExists", id: 2n, afterRetry: true },
      ]);
      expect(backend.size()).toBe(2);
    } finally {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      backend.close();
    }
  });

  it("rejects with OffloadError UNAVAILABLE when no server answers within the deadline", async () => {
    client = createOpenOffloadClient({
      address: "127.0.0.1:1",
      credentials: { insecure: true },
      retry: { initialBackoffMs: 5, maxBackoffMs: 10, maxAttempts: 2 },
    });
    const err = await client.addSessions([session(1n)], { timeoutMs: 2_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OffloadError);
    expect([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]).toContain((err as OffloadError).code);
  });
});

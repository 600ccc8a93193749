import { createInsecureCredentials } from "@sessionoffload/server-transport";
import { afterEach, describe, expect, it } from "@jest/globals";
import { createServer, connect, type Socket } from "node:net";
import { status } from "@grpc/grpc-js";
import {
  BACKEND_INTERNAL_MESSAGE,
  BACKEND_UNAVAILABLE_MESSAGE,
  type OffloadServer,
} from "@sessionoffload/server-transport";
import { sessionsV1, type Session } from "@sessionoffload/offload-api";
import { createMemorySwitch, type MemorySwitch, type SwitchBackend } from "@sessionoffload/switch-backend";
import { createStatsServer, type StatisticsMethod, type StatsServerOptions, type StreamOutcome } from "../src";
import { drain, spec, statsClient, until } from "./support";
import { recordingLogger } from "../../../test/support/recording-logger";

const { SESSION_STATE, SESSION_CLOSE_CODE, REQUEST_STATUS } = sessionsV1;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function memorySwitch(capacity = 1000): MemorySwitch {
  const backend = createMemorySwitch({ capacity, traffic: false, tickIntervalMs: 0 });
  cleanups.push(() => backend.close());
  return backend;
}

function fill(backend: MemorySwitch, count: number): bigint[] {
  const ids: bigint[] = [];
  for (let n = 0; n < count; n += 1) {
    const result = backend.add(spec(n));
    if (result.kind !== "accepted") throw new Error(`fill: ${result.kind}`);
    ids.push(result.session.id);
  }
  return ids;
}

interface Observed {
  written: number;
  delivered: bigint[];
  ends: Array<[StatisticsMethod, number, StreamOutcome]>;
}

async function serve(backend: SwitchBackend, extra: Partial<StatsServerOptions> = {}) {
  const observed: Observed = { written: 0, delivered: [], ends: [] };
  const server: OffloadServer = createStatsServer({
    backend,
    credentials: createInsecureCredentials(),
    hooks: {
      onWrite: () => (observed.written += 1),
      onSettle: (ids) => observed.delivered.push(...ids),
      onEnd: (method, count, outcome) => observed.ends.push([method, count, outcome]),
    },
    ...extra,
  });
  const port = await server.listen("127.0.0.1:0");
  const client = statsClient(port);
  cleanups.push(() => server.shutdown());
  cleanups.push(() => client.close());
  return { server, client, port, observed };
}

const ids = (messages: readonly sessionsV1.sessionResponse[]) => messages.map((m) => m.sessionId);

describe("getAllSessions", () => {
  it("streams every entry, live and closed-not-collected, in ascending id order", async () => {
    const backend = memorySwitch();
    const all = fill(backend, 50);
    backend.endSession(all[3] as bigint, "rst");
    backend.delete(all[10] as bigint);
    const { client } = await serve(backend);
    const { messages, error } = await drain(client.getAllSessions({ pageSize: 0 }));
    expect(error).toBeUndefined();
    expect(ids(messages)).toEqual(all.filter((id) => id !== all[10]));
    expect(messages[3]).toMatchObject({
      sessionState: SESSION_STATE._CLOSED,
      sessionCloseCode: SESSION_CLOSE_CODE._RST,
    });
    expect(messages.every((m) => m.requestStatus === REQUEST_STATUS._ACCEPTED)).toBe(true);
    expect(backend.size()).toBe(49);
  });

  it.each([
    [1, 1],
    [7, 7],
    [50, 50],
    [51, 50],
    [4_000_000_000, 50],
  ])("pageSize %p streams the first %p", async (pageSize, count) => {
    const backend = memorySwitch();
    const all = fill(backend, 50);
    const { client } = await serve(backend);
    const { messages, error } = await drain(client.getAllSessions({ pageSize }));
    expect(error).toBeUndefined();
    expect(ids(messages)).toEqual(all.slice(0, count));
  });

  it("ends OK with no message for an empty table", async () => {
    const { client } = await serve(memorySwitch());
    expect(await drain(client.getAllSessions({ pageSize: 0 }))).toEqual({ messages: [], error: undefined });
  });
});

describe("getClosedSessions", () => {
  it("delivers each ended session exactly once, removes it and frees its capacity", async () => {
    const backend = memorySwitch(20);
    const all = fill(backend, 20);
    const ended = [all[1], all[4], all[5], all[19]] as bigint[];
    backend.endSession(ended[0] as bigint, "finAck");
    backend.endSession(ended[1] as bigint, "rst");
    backend.endSession(ended[2] as bigint, "timeout");
    backend.endSession(ended[3] as bigint, "rst");
    const { client } = await serve(backend);
    const first = await drain(client.getClosedSessions({ pageSize: 0 }));
    expect(first.error).toBeUndefined();
    expect(ids(first.messages)).toEqual(ended);
    expect(first.messages.map((m) => m.sessionCloseCode)).toEqual([
      SESSION_CLOSE_CODE._FINACK,
      SESSION_CLOSE_CODE._RST,
      SESSION_CLOSE_CODE._TIMEOUT,
      SESSION_CLOSE_CODE._RST,
    ]);
    for (const m of first.messages) {
      expect(m.sessionState).toBe(SESSION_STATE._CLOSED);
      expect(m.endTime).toBeDefined();
    }
    expect(backend.size()).toBe(16);
    expect((await drain(client.getClosedSessions({ pageSize: 0 }))).messages).toEqual([]);
    expect(backend.add(spec(1000)).kind).toBe("accepted");
  });

  it("does not report a deleted session", async () => {
    const backend = memorySwitch();
    const [a, b] = fill(backend, 2) as [bigint, bigint];
    backend.endSession(a, "rst");
    backend.endSession(b, "rst");
    backend.delete(a);
    const { client } = await serve(backend);
    expect(ids((await drain(client.getClosedSessions({ pageSize: 0 }))).messages)).toEqual([b]);
  });

  it("caps each call at pageSize, across lease batches, and never repeats one", async () => {
    const backend = memorySwitch();
    const all = fill(backend, 100);
    const closed = all.filter((_, i) => i % 3 === 0);
    for (const id of closed) backend.endSession(id, "timeout");
    const { client } = await serve(backend, { closedBatchSize: 4 });
    const seen: bigint[] = [];
    for (const pageSize of [10, 1, 9, 5]) {
      const { messages, error } = await drain(client.getClosedSessions({ pageSize }));
      expect(error).toBeUndefined();
      expect(messages).toHaveLength(pageSize);
      seen.push(...ids(messages));
    }
    const rest = await drain(client.getClosedSessions({ pageSize: 0 }));
    seen.push(...ids(rest.messages));
    expect(seen).toEqual(closed);
    expect(backend.size()).toBe(100 - closed.length);
  });

  it("loses nothing when the client cancels mid-stream: the undelivered stay for the next call", async () => {
    const backend = memorySwitch(5000);
    const all = fill(backend, 5000);
    for (const id of all) backend.endSession(id, "finAck");
    const logger = recordingLogger();
    const { client, observed } = await serve(backend, { closedBatchSize: 64, logger });
    const stream = client.getClosedSessions({ pageSize: 0 });
    const received: bigint[] = [];
    const cancelled = new Promise<void>((resolve) => {
      stream.on("data", (m: sessionsV1.sessionResponse) => {
        received.push(m.sessionId);
        if (received.length === 10) stream.cancel();
      });
      stream.on("error", () => resolve());
    });
    await cancelled;
    await until(() => observed.ends.length === 1);
    expect(observed.ends[0]?.[2]).toBe("cancelled");
    const deliveredFirst = [...observed.delivered];
    expect(deliveredFirst.length).toBeGreaterThanOrEqual(10);
    expect(deliveredFirst.length).toBeLessThan(all.length);
    expect(received).toEqual(deliveredFirst.slice(0, received.length));
    expect(backend.size()).toBe(all.length - deliveredFirst.length);
    // An operator sees the cancellation at info: which stream, how much it took, and who.
    expect(logger.lines.map((l) => [l.level, l.message, l.fields.method, l.fields.sent])).toEqual([
      ["info", "stream cancelled by the client", "getClosedSessions", deliveredFirst.length],
    ]);
    expect(logger.lines[0]?.fields.peer).toMatch(/^127\.0\.0\.1:\d+$/);

    const second = await drain(client.getClosedSessions({ pageSize: 0 }));
    expect(second.error).toBeUndefined();
    expect([...deliveredFirst, ...ids(second.messages)]).toEqual(all);
    expect(backend.size()).toBe(0);
  });

  it("loses nothing when the client's connection dies mid-stream", async () => {
    const backend = memorySwitch(20_000);
    const all = fill(backend, 20_000);
    for (const id of all) backend.endSession(id, "rst");
    const { port, observed } = await serve(backend, { closedBatchSize: 128 });
    // A TCP proxy whose sockets we can destroy: a real disconnect, not a cancel.
    const sockets: Socket[] = [];
    const proxy = createServer((inbound) => {
      const outbound = connect(port, "127.0.0.1");
      sockets.push(inbound, outbound);
      inbound.pipe(outbound).on("error", () => undefined);
      outbound.pipe(inbound).on("error", () => undefined);
      inbound.on("error", () => undefined);
      outbound.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
    const proxyPort = (proxy.address() as { port: number }).port;
    const viaProxy = statsClient(proxyPort);
    cleanups.push(() => viaProxy.close());

    const stream = viaProxy.getClosedSessions({ pageSize: 0 });
    const received: bigint[] = [];
    const ended = new Promise<void>((resolve) => {
      stream.on("data", (m: sessionsV1.sessionResponse) => {
        received.push(m.sessionId);
        if (received.length === 100) {
          stream.pause();
          for (const s of sockets) s.destroy();
        }
      });
      stream.on("error", () => resolve());
      stream.on("end", () => resolve());
    });
    await ended;
    await until(() => observed.ends.length === 1);
    expect(observed.ends[0]?.[2]).toBe("cancelled");
    const deliveredFirst = [...observed.delivered];
    expect(deliveredFirst.length).toBeLessThan(all.length);
    expect(received.slice(0, 100)).toEqual(deliveredFirst.slice(0, 100));

    const { client } = await serve(backend);
    const second = await drain(client.getClosedSessions({ pageSize: 0 }));
    expect([...deliveredFirst, ...ids(second.messages)]).toEqual(all);
    expect(backend.size()).toBe(0);
  });
});

describe("backend failures", () => {
  const refused = Object.assign(new Error("connect ECONNREFUSED 10.9.9.9"), { code: "ECONNREFUSED" });

  function broken(overrides: Partial<SwitchBackend>): SwitchBackend {
    const inner = memorySwitch();
    fill(inner, 5);
    inner.endSession(1n, "rst");
    return {
      add: (s) => inner.add(s),
      get: (id) => inner.get(id),
      delete: (id) => inner.delete(id),
      sessions: (o) => inner.sessions(o),
      takeClosed: (max) => inner.takeClosed(max),
      size: () => inner.size(),
      close: () => inner.close(),
      ...overrides,
    };
  }

  it("getAllSessions: a backend that throws ends the stream INTERNAL, cause not sent", async () => {
    const { client } = await serve(
      broken({
        sessions: () => {
          throw new Error("secret cause");
        },
      }),
    );
    const { error } = await drain(client.getAllSessions({ pageSize: 0 }));
    expect(error?.code).toBe(status.INTERNAL);
    expect(error?.details).toBe(BACKEND_INTERNAL_MESSAGE);
  });

  it("getAllSessions: an iterator that fails midway ends INTERNAL after what it gave", async () => {
    async function* failing(): AsyncGenerator<Session> {
      const inner = memorySwitch();
      fill(inner, 3);
      yield* inner.sessions();
      throw new Error("store read failed");
    }
    const { client } = await serve(broken({ sessions: () => failing() }));
    const { messages, error } = await drain(client.getAllSessions({ pageSize: 0 }));
    expect(ids(messages)).toEqual([1n, 2n, 3n]);
    expect(error?.code).toBe(status.INTERNAL);
  });

  it("getClosedSessions: a rejected takeClosed ends UNAVAILABLE", async () => {
    const { client } = await serve(broken({ takeClosed: () => Promise.reject(refused) }));
    const { error } = await drain(client.getClosedSessions({ pageSize: 0 }));
    expect(error?.code).toBe(status.UNAVAILABLE);
    expect(error?.details).toBe(BACKEND_UNAVAILABLE_MESSAGE);
  });
});

describe("shutdown", () => {
  it("ends a paused getAllSessions UNAVAILABLE: the listing is incomplete", async () => {
    const backend = memorySwitch(100_000);
    const all = fill(backend, 100_000);
    const { server, client, observed } = await serve(backend);
    const listing = client.getAllSessions({ pageSize: 0 });
    let listed = 0;
    const listingDone = new Promise<string>((resolve) => {
      listing.on("data", () => {
        listed += 1;
        if (listed === 1) listing.pause();
      });
      listing.on("error", (e: { code: status }) => resolve(status[e.code]));
      listing.on("end", () => resolve("OK"));
    });
    await until(() => listed === 1);
    let stopped = false;
    const stopping = server.shutdown().then(() => (stopped = true));
    await until(() => observed.ends.length === 1);
    expect(observed.ends[0]).toEqual(["getAllSessions", observed.written, "shutdown"]);
    listing.resume();
    expect(await listingDone).toBe("UNAVAILABLE");
    // grpc-js clients drop messages still buffered when an error status arrives.
    expect(listed).toBeLessThanOrEqual(observed.written);
    expect(observed.written).toBeLessThan(all.length);
    await stopping;
    expect(stopped).toBe(true);
  });

  it("ends an open getClosedSessions OK, settling what it delivered and keeping the rest", async () => {
    const backend = memorySwitch(100_000);
    const all = fill(backend, 100_000);
    for (const id of all) backend.endSession(id, "timeout");
    const { server, client, observed } = await serve(backend);
    const stream = client.getClosedSessions({ pageSize: 0 });
    let received = 0;
    const done = new Promise<string>((resolve) => {
      stream.on("data", () => {
        received += 1;
        if (received === 1) stream.pause();
      });
      stream.on("error", (e: { code: status }) => resolve(status[e.code]));
      stream.on("end", () => resolve("OK"));
    });
    await until(() => received === 1);
    const stopping = server.shutdown();
    stream.resume();
    expect(await done).toBe("OK");
    await stopping;
    expect(observed.ends).toEqual([["getClosedSessions", received, "shutdown"]]);
    expect(observed.delivered).toHaveLength(received);
    expect(backend.size()).toBe(all.length - received);
  });
});

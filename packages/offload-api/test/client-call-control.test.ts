import { createInsecureCredentials } from "@sessionoffload/server-transport";
import { afterEach, describe, expect, it } from "@jest/globals";
import { createServer } from "node:net";
import { status } from "@grpc/grpc-js";
import { createSessionServer } from "@sessionoffload/session-server";
import { createStatsServer } from "@sessionoffload/stats-server";
import { createMemorySwitch } from "@sessionoffload/switch-backend";
import {
  createOffloadClient,
  OffloadError,
  ValidationError,
  type OffloadClient,
  type RetryEvent,
  type Session,
} from "../src";
import { fill, startFixture, tcpSession, tcpSpec, type Fixture } from "./client-fixtures";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(options: Parameters<typeof startFixture>[0] = {}): Promise<Fixture> {
  const fixture = await startFixture(options);
  cleanups.push(() => fixture.close());
  return fixture;
}

function client(options: Parameters<typeof createOffloadClient>[0]): OffloadClient {
  const c = createOffloadClient({ credentials: { insecure: true }, ...options });
  cleanups.push(() => c.close());
  return c;
}

async function rejection(promise: Promise<unknown>): Promise<OffloadError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof OffloadError) return err;
    throw err;
  }
  throw new Error("expected an OffloadError");
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await delay(5);
  }
}

/** A switch whose get answers after `ms`: a slow data plane, to run into deadlines. */
function slowGet(ms: number, counter: { gets: number }) {
  return (sw: ReturnType<typeof createMemorySwitch>) => ({
    ...sw,
    async get(id: bigint) {
      counter.gets++;
      await delay(ms);
      return sw.get(id);
    },
  });
}

describe("deadlines", () => {
  it("a unary call past its timeout rejects with OffloadError DEADLINE_EXCEEDED", async () => {
    const counter = { gets: 0 };
    const { client: c } = await start({ wrapBackend: slowGet(400, counter) });
    // Connect first (untimed): on a busy machine the connection alone may take longer than the 50 ms.
    await c.getSession(2n);
    counter.gets = 0;
    const err = await rejection(c.getSession(1n, { timeoutMs: 50 }));
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    expect(err.method).toBe("getSession");
    expect(counter.gets).toBeLessThanOrEqual(1); // not retried (it may not even have arrived in 50 ms)
  });

  it("an absolute deadline in the past fails without waiting for the server", async () => {
    const { client: c } = await start();
    const err = await rejection(c.addSession(tcpSession(1), { deadline: new Date(Date.now() - 1000) }));
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
  });

  it("the client default applies when a call gives none", async () => {
    const counter = { gets: 0 };
    const { sessionsAddress } = await start({ wrapBackend: slowGet(400, counter) });
    const c = client({ sessionsAddress, defaultTimeoutMs: 50 });
    expect((await rejection(c.getSession(1n))).code).toBe(status.DEADLINE_EXCEEDED);
  });

  it("a stream past its deadline ends the iteration with DEADLINE_EXCEEDED, after the messages that arrived", async () => {
    const { client: c, backend } = await start({ capacity: 20_000 });
    fill(backend, 20_000);
    const seen: Session[] = [];
    const err = await rejection(
      (async () => {
        for await (const s of c.getAllSessions({ timeoutMs: 1000 })) {
          seen.push(s);
          if (seen.length === 1) await delay(2500);
        }
      })(),
    );
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.length).toBeLessThan(20_000);
  }, 60_000);

  it("rejects an invalid timeout locally", async () => {
    const { client: c } = await start();
    await expect(c.getSession(1n, { timeoutMs: -5 })).rejects.toMatchObject({
      name: "ValidationError",
      field: "timeoutMs",
    });
  });
});

describe("AbortSignal", () => {
  it("aborting a unary call in flight rejects with CANCELLED and the reason as cause", async () => {
    const counter = { gets: 0 };
    const { client: c } = await start({ wrapBackend: slowGet(300, counter) });
    const controller = new AbortController();
    const reason = new Error("operator pressed stop");
    const pending = rejection(c.getSession(1n, { signal: controller.signal }));
    await waitFor(() => counter.gets === 1);
    controller.abort(reason);
    const err = await pending;
    expect(err.code).toBe(status.CANCELLED);
    expect(err.cause).toBe(reason);
  });

  it("an already aborted signal fails before anything is sent", async () => {
    const counter = { gets: 0 };
    const { client: c } = await start({ wrapBackend: slowGet(1, counter) });
    const err = await rejection(c.getSession(1n, { signal: AbortSignal.abort("never mind") }));
    expect(err.code).toBe(status.CANCELLED);
    expect(err.cause).toBe("never mind");
    expect(counter.gets).toBe(0);
  });

  it("aborting a stream mid-iteration ends it with CANCELLED and the server stops", async () => {
    let written = 0;
    const { client: c, backend } = await start({
      capacity: 30_000,
      hooks: { onWrite: () => void written++ },
    });
    fill(backend, 30_000);
    const controller = new AbortController();
    let seen = 0;
    const err = await rejection(
      (async () => {
        for await (const _ of c.getAllSessions({ signal: controller.signal })) {
          if (++seen === 5) controller.abort();
        }
      })(),
    );
    expect(err.code).toBe(status.CANCELLED);
    expect(written).toBeLessThan(30_000);
  }, 60_000);

  it("aborting during the backoff wait stops retrying at once", async () => {
    const port = await freePort();
    const controller = new AbortController();
    const c = client({
      sessionsAddress: `127.0.0.1:${port}`,
      retry: { initialBackoffMs: 60_000, maxBackoffMs: 60_000 },
      defaultTimeoutMs: 120_000,
      onRetry: () => controller.abort(),
    });
    const err = await rejection(c.getSession(1n, { signal: controller.signal }));
    expect(err.code).toBe(status.CANCELLED);
    expect(err.attempts).toBe(1);
  });
});

describe("retries of UNAVAILABLE", () => {
  it("finds a server that starts late: addSession is retried with backoff and accepted", async () => {
    const port = await freePort();
    const backend = createMemorySwitch({ capacity: 10, tickIntervalMs: 0, traffic: false });
    const server = createSessionServer({ backend, credentials: createInsecureCredentials() });
    cleanups.push(() => backend.close());
    cleanups.push(() => server.shutdown());
    const events: RetryEvent[] = [];
    let starting: Promise<number> | undefined;
    const c = client({
      sessionsAddress: `127.0.0.1:${port}`,
      retry: { maxAttempts: 10, initialBackoffMs: 20, maxBackoffMs: 200 },
      onRetry: (event) => {
        events.push(event);
        starting ??= server.listen(`127.0.0.1:${port}`);
      },
    });
    const result = await c.addSession(tcpSession(1));
    expect(result.kind).toBe("accepted");
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events[0]).toMatchObject({ method: "addSession", attempt: 1 });
    expect(backend.size()).toBe(1);
    await starting;
  });

  it("a stream that fails before its first message is retried too", async () => {
    const port = await freePort();
    const backend = createMemorySwitch({ capacity: 10, tickIntervalMs: 0, traffic: false });
    const server = createStatsServer({ backend, credentials: createInsecureCredentials() });
    cleanups.push(() => backend.close());
    cleanups.push(() => server.shutdown());
    backend.add(tcpSpec(1));
    let retries = 0;
    let starting: Promise<number> | undefined;
    const c = client({
      statsAddress: `127.0.0.1:${port}`,
      retry: { maxAttempts: 10, initialBackoffMs: 20, maxBackoffMs: 200 },
      onRetry: () => {
        retries++;
        starting ??= server.listen(`127.0.0.1:${port}`);
      },
    });
    const all: Session[] = [];
    for await (const s of c.getAllSessions()) all.push(s);
    expect(all).toHaveLength(1);
    expect(retries).toBeGreaterThanOrEqual(1);
    await starting;
  });

  it("gives up after maxAttempts with OffloadError UNAVAILABLE", async () => {
    const port = await freePort();
    const events: RetryEvent[] = [];
    const logged: Array<[object, string | undefined]> = [];
    const c = client({
      sessionsAddress: `127.0.0.1:${port}`,
      retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 2 },
      onRetry: (e) => events.push(e),
      logger: { debug: (fields, message) => logged.push([fields, message]) },
    });
    const err = await rejection(c.getSession(1n));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(err.attempts).toBe(3);
    expect(err.message).toMatch(/^getSession: UNAVAILABLE: .* \(after 3 attempts\)$/);
    expect(events.map((e) => e.attempt)).toEqual([1, 2]);
    expect(logged).toHaveLength(2);
    expect(logged[0]?.[0]).toMatchObject({ method: "getSession", attempt: 1 });
  });

  it("retry: false and deleteSession (by default) make one attempt only", async () => {
    const port = await freePort();
    let retries = 0;
    const noRetry = client({ sessionsAddress: `127.0.0.1:${port}`, retry: false, onRetry: () => retries++ });
    expect((await rejection(noRetry.addSession(tcpSession(1)))).attempts).toBe(1);
    const defaults = client({
      sessionsAddress: `127.0.0.1:${port}`,
      retry: { initialBackoffMs: 1, maxBackoffMs: 2 },
      onRetry: () => retries++,
    });
    const err = await rejection(defaults.deleteSession(1n));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(err.attempts).toBe(1);
    expect(retries).toBe(0);
  });

  it("a non-UNAVAILABLE failure is not retried", async () => {
    const counter = { gets: 0 };
    const { client: c } = await start({
      wrapBackend: (sw) => ({
        ...sw,
        get() {
          counter.gets++;
          throw new Error("corrupt row");
        },
      }),
      client: { retry: { initialBackoffMs: 1, maxBackoffMs: 2 } },
    });
    const err = await rejection(c.getSession(1n));
    expect(err.code).toBe(status.INTERNAL);
    expect(counter.gets).toBe(1);
  });
});

describe("addSessionWaitingForRoom", () => {
  function countingFull() {
    const counter = { full: 0 };
    const wrap = (sw: ReturnType<typeof createMemorySwitch>) => ({
      ...sw,
      add(spec: Parameters<typeof sw.add>[0]) {
        const result = sw.add(spec);
        if (result.kind === "tableFull") counter.full++;
        return result;
      },
    });
    return { counter, wrap };
  }

  it("waits while the table is full and is accepted once a closed session is collected", async () => {
    const { counter, wrap } = countingFull();
    const { client: c, backend } = await start({ capacity: 1, wrapBackend: wrap });
    const first = await c.addSession(tcpSession(1));
    if (first.kind !== "accepted") throw new Error("not accepted");
    backend.endSession(first.id, "finAck"); // ended but not collected: still occupies the entry
    const waiting = c.addSessionWaitingForRoom(tcpSession(2), { maxWaitMs: 20_000, pollMs: 10 });
    await waitFor(() => counter.full >= 1);
    for await (const closed of c.getClosedSessions()) expect(closed.id).toBe(first.id);
    const result = await waiting;
    expect(result.kind).toBe("accepted");
  });

  it("answers tableFull after maxWaitMs, having tried more than once", async () => {
    const { counter, wrap } = countingFull();
    const { client: c } = await start({ capacity: 1, wrapBackend: wrap });
    await c.addSession(tcpSession(1));
    expect(await c.addSessionWaitingForRoom(tcpSession(2), { maxWaitMs: 1000, pollMs: 10 })).toEqual({
      kind: "tableFull",
    });
    expect(counter.full).toBeGreaterThanOrEqual(2);
  });

  it("validates the input before the first try, and can be aborted", async () => {
    const { counter, wrap } = countingFull();
    const { client: c } = await start({ capacity: 1, wrapBackend: wrap });
    await expect(
      c.addSessionWaitingForRoom(tcpSession(1, { sourcePort: 0 }), { maxWaitMs: 100 }),
    ).rejects.toBeInstanceOf(ValidationError);
    await c.addSession(tcpSession(1));
    const controller = new AbortController();
    const waiting = rejection(
      c.addSessionWaitingForRoom(tcpSession(2), { maxWaitMs: 60_000, pollMs: 50, signal: controller.signal }),
    );
    await waitFor(() => counter.full >= 1);
    controller.abort();
    expect((await waiting).code).toBe(status.CANCELLED);
  });
});

describe("close", () => {
  it("calls after close reject with FAILED_PRECONDITION; close is idempotent", async () => {
    const { client: c } = await start();
    c.close();
    c.close();
    const err = await rejection(c.getSession(1n));
    expect(err.code).toBe(status.FAILED_PRECONDITION);
  });
});

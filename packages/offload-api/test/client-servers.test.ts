import { afterEach, describe, expect, it } from "@jest/globals";
import { credentials as grpcCredentials, status } from "@grpc/grpc-js";
import { formatAddress, OffloadError, sessionsV1, type Session, type SessionSpec } from "../src";
import { DEFAULT_RETRY_POLICY } from "../src/client/retry-policy";
import { invokeUnary } from "../src/client/unary-call";
import { fill, startFixture, tcpSession, type Fixture } from "./client-fixtures";

let fixture: Fixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

async function start(options: Parameters<typeof startFixture>[0] = {}): Promise<Fixture> {
  fixture = await startFixture(options);
  return fixture;
}

async function collect(iterable: AsyncIterable<Session>): Promise<Session[]> {
  const out: Session[] = [];
  for await (const s of iterable) out.push(s);
  return out;
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

describe("addSession against real servers", () => {
  it("accepted: a new id and the session as the switch stored it", async () => {
    const { client, backend } = await start();
    const before = BigInt(Date.now()) * 1_000_000n;
    const result = await client.addSession(
      tcpSession(1, { sourceIp: "2001:db8::1", destinationIp: "2001:db8::2", protocol: "udp", inLif: "eth0" }),
    );
    if (result.kind !== "accepted") throw new Error(`expected accepted, got ${result.kind}`);
    expect(result.id).toBeGreaterThan(0n);
    expect(result.session).toMatchObject({
      id: result.id,
      state: "established",
      closeCode: "notClosed",
      inPackets: 0n,
    });
    expect(result.session.startTime).toBeGreaterThanOrEqual(before - 1_000_000_000n);
    expect(result.session.endTime).toBeUndefined();
    expect(backend.size()).toBe(1);
    const stored = backend.get(result.id);
    expect(stored?.id).toBe(result.id);
  });

  it("alreadyExists: the same 7-tuple answers the existing id, not retried", async () => {
    const { client, backend } = await start();
    const first = await client.addSession(tcpSession(7));
    const second = await client.addSession(tcpSession(7));
    expect(first.kind).toBe("accepted");
    expect(second).toEqual({ kind: "alreadyExists", id: (first as { id: bigint }).id, afterRetry: false });
    expect(backend.size()).toBe(1);
  });

  it("tableFull: back-pressure as a result, and the table is unchanged", async () => {
    const { client, backend } = await start({ capacity: 2 });
    expect((await client.addSession(tcpSession(1))).kind).toBe("accepted");
    expect((await client.addSession(tcpSession(2))).kind).toBe("accepted");
    expect(await client.addSession(tcpSession(3))).toEqual({ kind: "tableFull" });
    expect(backend.size()).toBe(2);
  });

  it("a retried add whose first attempt was applied answers alreadyExists with the id and afterRetry", async () => {
    let failNext = true;
    const { client, backend } = await start({
      wrapBackend: (sw) => ({
        ...sw,
        add(spec) {
          const result = sw.add(spec);
          if (failNext) {
            // Applied in the switch, but the answer is lost: the server answers UNAVAILABLE.
            failNext = false;
            throw Object.assign(new Error("switch link flapped"), { code: "ECONNRESET" });
          }
          return result;
        },
      }),
      client: { retry: { initialBackoffMs: 5, maxBackoffMs: 10 } },
    });
    const result = await client.addSession(tcpSession(9));
    const [only] = [...backend.sessions()];
    expect(result).toEqual({ kind: "alreadyExists", id: only?.id, afterRetry: true });
    expect(backend.size()).toBe(1);
  });

  it("a server INVALID_ARGUMENT becomes OffloadError with the code and the field in details", async () => {
    // The client never sends malformed input, so talk to the real server through the client's call engine.
    const { sessionsAddress } = await start();
    const raw = new sessionsV1.SessionTableClient(sessionsAddress, grpcCredentials.createInsecure());
    try {
      const request = sessionsV1.sessionRequest.fromPartial({
        sourceIp: Buffer.from([10, 0, 0, 1]),
        destinationIp: Buffer.from([10, 0, 0, 2]),
        sourcePort: 0,
        destinationPort: 80,
        protocolId: sessionsV1.PROTOCOL_ID._TCP,
      });
      const err = await rejection(
        invokeUnary<sessionsV1.sessionResponse>(
          {
            method: "addSession",
            policy: DEFAULT_RETRY_POLICY,
            retryable: true,
            deadlineMs: Date.now() + 5000,
            signal: undefined,
            random: Math.random,
            now: Date.now,
            logger: undefined,
            onRetry: undefined,
          },
          (md, opts, cb) => raw.addSession(request, md, opts, cb),
        ),
      );
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.codeName).toBe("INVALID_ARGUMENT");
      expect(err.details).toMatch(/sourcePort/);
      expect(err.attempts).toBe(1);
    } finally {
      raw.close();
    }
  });
});

describe("getSession and deleteSession against real servers", () => {
  it("found: bigint ids and counters past 2^53, names for states", async () => {
    const { client, backend } = await start();
    const added = await client.addSession(tcpSession(1));
    if (added.kind !== "accepted") throw new Error("not accepted");
    const big = 2n ** 60n + 3n;
    backend.addTraffic(added.id, { inPackets: big, outPackets: 2n, inBytes: big * 3n, outBytes: 4n });
    const got = await client.getSession(added.id);
    expect(got).toEqual({
      kind: "found",
      session: expect.objectContaining({
        id: added.id,
        state: "established",
        closeCode: "notClosed",
        inPackets: big,
        outPackets: 2n,
        inBytes: big * 3n,
        outBytes: 4n,
      }),
    });
  });

  it("an ended session shows state closed, its close code and endTime", async () => {
    const { client, backend } = await start();
    const added = await client.addSession(tcpSession(1));
    if (added.kind !== "accepted") throw new Error("not accepted");
    backend.endSession(added.id, "rst");
    const got = await client.getSession(added.id);
    if (got.kind !== "found") throw new Error("not found");
    expect(got.session.state).toBe("closed");
    expect(got.session.closeCode).toBe("rst");
    expect(got.session.endTime).toBeGreaterThanOrEqual(got.session.startTime);
  });

  it.each([1n, 12345n, 2n ** 64n - 1n])("notFound for unknown id %s", async (id) => {
    const { client } = await start();
    expect(await client.getSession(id)).toEqual({ kind: "notFound" });
    expect(await client.deleteSession(id)).toEqual({ kind: "notFound" });
  });

  it("delete: final counters, closing1, endTime set; afterwards notFound everywhere", async () => {
    const { client, backend } = await start();
    const added = await client.addSession(tcpSession(3));
    if (added.kind !== "accepted") throw new Error("not accepted");
    backend.addTraffic(added.id, { inPackets: 5n, outPackets: 6n, inBytes: 700n, outBytes: 800n });
    const deleted = await client.deleteSession(added.id);
    if (deleted.kind !== "found") throw new Error("not found");
    expect(deleted.session).toMatchObject({ id: added.id, state: "closing1", inPackets: 5n, outBytes: 800n });
    expect(deleted.session.endTime).toBeDefined();
    expect(await client.getSession(added.id)).toEqual({ kind: "notFound" });
    expect(await client.deleteSession(added.id)).toEqual({ kind: "notFound" });
    expect(backend.size()).toBe(0);
  });

  it.each([[-1n], [2n ** 64n], [5 as unknown as bigint]])(
    "refuses id %p locally with a ValidationError",
    async (id) => {
      const { client } = await start();
      await expect(client.getSession(id)).rejects.toMatchObject({ name: "ValidationError", field: "id" });
    },
  );
});

describe("getAllSessions and getClosedSessions against real servers", () => {
  it("getAllSessions streams every entry in ascending id order; pageSize caps it", async () => {
    const { client } = await start();
    const ids: bigint[] = [];
    for (let n = 0; n < 25; n++) {
      const r = await client.addSession(tcpSession(n));
      if (r.kind === "accepted") ids.push(r.id);
    }
    expect((await collect(client.getAllSessions())).map((s) => s.id)).toEqual(ids);
    expect((await collect(client.getAllSessions({ pageSize: 4 }))).map((s) => s.id)).toEqual(ids.slice(0, 4));
  });

  it("each iteration is a new call", async () => {
    const { client } = await start();
    await client.addSession(tcpSession(1));
    const all = client.getAllSessions();
    expect(await collect(all)).toHaveLength(1);
    await client.addSession(tcpSession(2));
    expect(await collect(all)).toHaveLength(2);
  });

  it("breaking out of getAllSessions cancels the call: the server stops writing", async () => {
    let written = 0;
    const { client, backend } = await start({
      capacity: 50_000,
      hooks: { onWrite: (method) => void (method === "getAllSessions" && written++) },
    });
    fill(backend, 50_000);
    let seen = 0;
    for await (const s of client.getAllSessions()) {
      expect(s.state).toBe("established");
      if (++seen === 3) break;
    }
    // After the cancel the server writes no more; let it notice, then check twice that the count holds.
    await waitFor(async () => (await client.getSession(1n)).kind === "found");
    const settled = written;
    await client.getSession(1n);
    expect(written).toBe(settled);
    expect(written).toBeLessThan(50_000);
  });

  it("getClosedSessions delivers each ended session once; deleted and live ones are not delivered", async () => {
    const { client, backend } = await start();
    const ids: bigint[] = [];
    for (let n = 0; n < 6; n++) {
      const r = await client.addSession(tcpSession(n));
      if (r.kind === "accepted") ids.push(r.id);
    }
    const [a, b, c, d] = ids as [bigint, bigint, bigint, bigint];
    backend.endSession(a, "finAck");
    backend.endSession(b, "rst");
    backend.endSession(c, "timeout");
    await client.deleteSession(d);
    const closed = await collect(client.getClosedSessions());
    expect(closed.map((s) => [s.id, s.state, s.closeCode])).toEqual([
      [a, "closed", "finAck"],
      [b, "closed", "rst"],
      [c, "closed", "timeout"],
    ]);
    for (const s of closed) expect(s.endTime).toBeDefined();
    expect(await collect(client.getClosedSessions())).toEqual([]);
    expect(backend.size()).toBe(2);
  });

  it("getClosedSessions with pageSize takes only that many; the rest come next time, none lost or repeated", async () => {
    const { client, backend } = await start();
    const ids: bigint[] = [];
    for (let n = 0; n < 5; n++) {
      const r = await client.addSession(tcpSession(n));
      if (r.kind !== "accepted") throw new Error("not accepted");
      ids.push(r.id);
      backend.endSession(r.id, "finAck");
    }
    const first = await collect(client.getClosedSessions({ pageSize: 2 }));
    const second = await collect(client.getClosedSessions());
    expect(first.map((s) => s.id)).toEqual(ids.slice(0, 2));
    expect(second.map((s) => s.id)).toEqual(ids.slice(2));
    expect(backend.size()).toBe(0);
  });

  it("breaking out of getClosedSessions: the server sees the cancel, the unwritten stay, nothing twice", async () => {
    const settles: Array<{ delivered: number; offered: number }> = [];
    const { client, backend } = await start({
      capacity: 20_000,
      hooks: { onSettle: (ids, offered) => settles.push({ delivered: ids.length, offered }) },
    });
    const total = 20_000;
    for (const id of fill(backend, total)) backend.endSession(id, "timeout");
    const consumed: bigint[] = [];
    for await (const s of client.getClosedSessions()) {
      consumed.push(s.id);
      if (consumed.length === 2) break;
    }
    // The server settles its open lease when it sees the cancel.
    await waitFor(async () => settles.some((s) => s.delivered < s.offered));
    const deliveredByServer = settles.reduce((sum, s) => sum + s.delivered, 0);
    expect(deliveredByServer).toBeLessThan(total);
    const rest = await collect(client.getClosedSessions());
    const restIds = new Set(rest.map((s) => s.id));
    for (const id of consumed) expect(restIds.has(id)).toBe(false);
    // Every session is either written by the first call or delivered by the second: none stuck, none twice.
    expect(rest.length).toBe(total - deliveredByServer);
    expect(restIds.size).toBe(rest.length);
    expect(backend.size()).toBe(0);
  });
});

async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("what goes on the wire", () => {
  it("the switch receives the bytes, ports, protocol, action and LIFs of the client's input", async () => {
    const specs: SessionSpec[] = [];
    const { client } = await start({
      wrapBackend: (sw) => ({
        ...sw,
        add(spec) {
          specs.push({
            ...spec,
            sourceIp: Uint8Array.from(spec.sourceIp),
            destinationIp: Uint8Array.from(spec.destinationIp),
          });
          return sw.add(spec);
        },
      }),
    });
    await client.addSession({
      sourceIp: "2001:db8::a",
      sourcePort: 5353,
      destinationIp: "2001:db8::b",
      destinationPort: 53,
      protocol: "udp",
      action: "snoop",
      nextHop: "2001:db8::fe",
      inLif: "vlan10",
      outLif: "vlan20",
    });
    expect(specs).toHaveLength(1);
    const [spec] = specs as [SessionSpec];
    expect(formatAddress(spec.sourceIp)).toBe("2001:db8::a");
    expect(formatAddress(spec.destinationIp)).toBe("2001:db8::b");
    expect(spec).toMatchObject({
      ipVersion: "ipv6",
      sourcePort: 5353,
      destinationPort: 53,
      protocol: "udp",
      action: "snoop",
      nextHop: "2001:db8::fe",
      inLif: "vlan10",
      outLif: "vlan20",
    });
  });
});

import { createInsecureCredentials } from "@sessionoffload/server-transport";
import { afterEach, describe, expect, it } from "@jest/globals";
import { Server, ServerCredentials, status } from "@grpc/grpc-js";
import { openoffloadV1, sessionsV1 } from "@sessionoffload/offload-api";
import {
  createMemorySwitch,
  SwitchUnavailableError,
  type MemorySwitch,
  type SwitchBackend,
} from "@sessionoffload/switch-backend";
import { createOpenOffloadHandlers, createSessionServer, type OpenOffloadHandlersOptions } from "../src";
import { addBatch, closed, inAddr, ooRequest, openOffloadClient, unary } from "./openoffload-support";
import { ok, request, sessionClient } from "./support";

const { ADD_SESSION_STATUS, REQUEST_STATUS, SESSION_STATE, SESSION_CLOSE_CODE } = openoffloadV1;
const insecure = createInsecureCredentials();

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function memorySwitch(capacity = 16): MemorySwitch {
  const backend = createMemorySwitch({ capacity, traffic: false, tickIntervalMs: 0 });
  cleanups.push(() => backend.close());
  return backend;
}

// The memory switch behind promises: every answer is asynchronous, as a durable or remote switch's.
function asyncSwitch(inner: MemorySwitch): SwitchBackend {
  return {
    add: async (spec, options) => inner.add(spec, options),
    get: async (id) => inner.get(id),
    delete: async (id) => inner.delete(id),
    sessions: async function* (options) {
      yield* inner.sessions(options);
    },
    takeClosed: async (max) => inner.takeClosed(max),
    size: async () => inner.size(),
    close: async () => inner.close(),
  };
}

type Host = "session server (native transport)" | "session server (grpc-js transport)" | "plain grpc-js server";
const hosts: readonly Host[] = [
  "session server (native transport)",
  "session server (grpc-js transport)",
  "plain grpc-js server",
];

async function serve(
  backend: SwitchBackend,
  host: Host,
  extra: Omit<OpenOffloadHandlersOptions, "backend"> = {},
): Promise<{ client: openoffloadV1.SessionTableClient; port: number }> {
  let port: number;
  if (host === "plain grpc-js server") {
    const server = new Server();
    server.addService(openoffloadV1.SessionTableService, createOpenOffloadHandlers({ backend, ...extra }));
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      ),
    );
    cleanups.push(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  } else {
    const server = createSessionServer({
      backend,
      credentials: insecure,
      transport: host === "session server (native transport)" ? "native" : "grpc-js",
      openoffload: extra,
    });
    port = await server.listen("127.0.0.1:0");
    cleanups.push(() => server.shutdown());
  }
  const client = openOffloadClient(port);
  cleanups.push(() => client.close());
  return { client, port };
}

describe.each(hosts)("openoffload.v1 SessionTable on a %s", (host) => {
  describe.each<[string, (s: MemorySwitch) => SwitchBackend]>([
    ["sync", (s) => s],
    ["async", asyncSwitch],
  ])("over a %s switch", (_kind, wrap) => {
    it("adds a batch with the client's ids and answers OK, _SESSION_ACCEPTED, no errors", async () => {
      const sw = memorySwitch();
      const { client } = await serve(wrap(sw), host);
      const before = Date.now();
      const answer = await addBatch(client, [ooRequest(7n), ooRequest(3n), ooRequest(2n ** 63n + 1n)]);
      expect(answer).toMatchObject({
        ok: true,
        value: { requestStatus: ADD_SESSION_STATUS._SESSION_ACCEPTED, errorStatus: 0n, responseError: [] },
      });
      if (!answer.ok) return;
      expect(Number(answer.value.startTime?.seconds ?? 0n)).toBeGreaterThanOrEqual(Math.floor(before / 1000) - 1);
      expect([...sw.sessions()].map((s) => s.id)).toEqual([3n, 7n, 2n ** 63n + 1n]);
      const got = await unary(client, "getSession", 2n ** 63n + 1n);
      expect(got).toMatchObject({
        ok: true,
        value: {
          sessionId: 2n ** 63n + 1n,
          sessionState: SESSION_STATE._ESTABLISHED,
          requestStatus: REQUEST_STATUS._ACCEPTED,
        },
      });
    });

    it("answers every outcome of one batch per session, in stream order, with the bitmask and the summary", async () => {
      const sw = memorySwitch(4);
      const { client } = await serve(wrap(sw), host);
      await addBatch(client, [ooRequest(100n)]);
      const batch = [
        ooRequest(1n), // 0 accepted
        ooRequest(100n, {}, 500), // 1 id in the table
        ooRequest(2n, {}, Number(100n % 60000n)), // 2 7-tuple of session 100
        ooRequest(0n), // 3 malformed: id 0
        ooRequest(3n, { sourcePort: 0 }), // 4 malformed: port
        ooRequest(4n, { protocolId: openoffloadV1.PROTOCOL_ID._HOPOPT }), // 5 malformed: protocol
        ooRequest(5n, { ipVersion: openoffloadV1.IP_VERSION._IPV6, sourceIpV6: Buffer.alloc(15) }), // 6 malformed
        ooRequest(6n, {
          action: { actionType: openoffloadV1.ACTION_TYPE._MIRROR, actionNextHop: 0, actionNextHopV6: Buffer.alloc(0) },
        }), // 7 malformed
        ooRequest(7n), // 8 accepted (3 in the table)
        ooRequest(8n), // 9 accepted (4: full)
        ooRequest(9n), // 10 table full
        ooRequest(1n, {}, 900), // 11 id added earlier in this batch
      ];
      const answer = await addBatch(client, batch);
      if (!answer.ok) throw answer.error;
      const expected: Array<[bigint, number]> = [
        [100n, status.ALREADY_EXISTS],
        [2n, status.ALREADY_EXISTS],
        [0n, status.INVALID_ARGUMENT],
        [3n, status.INVALID_ARGUMENT],
        [4n, status.INVALID_ARGUMENT],
        [5n, status.INVALID_ARGUMENT],
        [6n, status.INVALID_ARGUMENT],
        [9n, status.RESOURCE_EXHAUSTED],
        [1n, status.ALREADY_EXISTS],
      ];
      expect(answer.value.responseError.map((e) => [e.sessionId, e.errorStatus])).toEqual(expected);
      const failed = [1, 2, 3, 4, 5, 6, 7, 10, 11];
      expect(answer.value.errorStatus).toBe(failed.reduce((m, i) => m | (1n << BigInt(i)), 0n));
      expect(answer.value.requestStatus).toBe(ADD_SESSION_STATUS._SESSION_TABLE_FULL);
      expect([...sw.sessions()].map((s) => s.id)).toEqual([1n, 7n, 8n, 100n]);
    });

    it.each<[string, openoffloadV1.sessionRequest[], openoffloadV1.ADD_SESSION_STATUS]>([
      ["only duplicates fail", [ooRequest(1n), ooRequest(1n, {}, 9)], ADD_SESSION_STATUS._SESSION_ALREADY_EXISTS],
      [
        "a malformed session fails",
        [ooRequest(1n), ooRequest(2n, { destinationPort: 70000 })],
        ADD_SESSION_STATUS._SESSION_REJECTED,
      ],
      [
        "a duplicate and a malformed session fail",
        [ooRequest(1n), ooRequest(1n, {}, 9), ooRequest(0n)],
        ADD_SESSION_STATUS._SESSION_REJECTED,
      ],
      ["nothing was sent", [], ADD_SESSION_STATUS._SESSION_ACCEPTED],
    ])("summarises a batch where %s", async (_what, batch, summary) => {
      const { client } = await serve(wrap(memorySwitch()), host);
      const answer = await addBatch(client, batch);
      expect(answer.ok && answer.value.requestStatus).toBe(summary);
    });

    it("sets bits for the first 64 positions only, and reports every failure", async () => {
      const { client } = await serve(wrap(memorySwitch(200)), host);
      const batch = Array.from({ length: 70 }, (_, i) =>
        i % 2 === 0 ? ooRequest(BigInt(i + 1)) : ooRequest(0n, {}, i),
      );
      const answer = await addBatch(client, batch);
      if (!answer.ok) throw answer.error;
      expect(answer.value.responseError).toHaveLength(35);
      let mask = 0n;
      for (let i = 1; i < 64; i += 2) mask |= 1n << BigInt(i);
      expect(answer.value.errorStatus).toBe(mask);
    });

    it("ends a stream of more than maxBatchSize sessions RESOURCE_EXHAUSTED, having decided the first ones", async () => {
      const sw = memorySwitch(100);
      const { client } = await serve(wrap(sw), host, { maxBatchSize: 5 });
      const answer = await addBatch(
        client,
        Array.from({ length: 8 }, (_, i) => ooRequest(BigInt(i + 1))),
      );
      expect(answer.ok).toBe(false);
      if (answer.ok) return;
      expect(answer.error.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(answer.error.details).toMatch(/more than 5 sessions/);
      expect(sw.size()).toBe(5);
    });

    it("answers getSession and deleteSession NOT_FOUND for an unknown id, INVALID_ARGUMENT for 0, final counters on delete", async () => {
      const sw = memorySwitch();
      const { client } = await serve(wrap(sw), host);
      await addBatch(client, [ooRequest(5n)]);
      sw.addTraffic(5n, { inPackets: 3n, outPackets: 2n, inBytes: 300n, outBytes: 200n });
      for (const method of ["getSession", "deleteSession"] as const) {
        const missing = await unary(client, method, 6n);
        expect(!missing.ok && missing.error.code).toBe(status.NOT_FOUND);
        const zero = await unary(client, method, 0n);
        expect(!zero.ok && zero.error.code).toBe(status.INVALID_ARGUMENT);
        expect(!zero.ok && zero.error.details).toMatch(/sessionId/);
      }
      const deleted = await unary(client, "deleteSession", 5n);
      expect(deleted).toMatchObject({
        ok: true,
        value: {
          sessionId: 5n,
          inPackets: 3n,
          outPackets: 2n,
          inBytes: 300n,
          outBytes: 200n,
          sessionState: SESSION_STATE._CLOSING_1,
        },
      });
      expect(deleted.ok && deleted.value.endTime).toBeDefined();
      const again = await unary(client, "getSession", 5n);
      expect(!again.ok && again.error.code).toBe(status.NOT_FOUND);
    });

    it("pages getAllSessions in id order: exclusive start, UINT_MAX and 0 from the beginning, never more than asked, 64 for 0", async () => {
      const sw = memorySwitch(300);
      const { client } = await serve(wrap(sw), host);
      const ids = Array.from({ length: 150 }, (_, i) => BigInt(1000 - i * 5));
      for (let i = 0; i < ids.length; i += 50)
        await addBatch(
          client,
          ids.slice(i, i + 50).map((id) => ooRequest(id)),
        );
      const sorted = [...ids].sort((a, b) => (a < b ? -1 : 1));
      const page = async (pageSize: number, startSession: bigint) => {
        const out = await unary(client, "getAllSessions", { pageSize, startSession });
        if (!out.ok) throw out.error;
        return out.value;
      };
      const first = await page(10, 4_294_967_295n);
      expect(first.sessionInfo.map((s) => s.sessionId)).toEqual(sorted.slice(0, 10));
      expect(first.nextkey).toBe(sorted[9]);
      expect((await page(10, 0n)).sessionInfo.map((s) => s.sessionId)).toEqual(sorted.slice(0, 10));
      const next = await page(10, first.nextkey);
      expect(next.sessionInfo.map((s) => s.sessionId)).toEqual(sorted.slice(10, 20));
      expect((await page(0, 0n)).sessionInfo).toHaveLength(64);
      expect((await page(5000, 0n)).sessionInfo).toHaveLength(150);
      const last = await page(10, sorted[149] ?? 0n);
      expect(last).toEqual({ sessionInfo: [], nextkey: 0n });
      // A paging client (the reference client's loop) walks a table that changes between pages without skips or repeats.
      const seen: bigint[] = [];
      let start = 4_294_967_295n;
      let extra = 2000n;
      for (;;) {
        const p = await page(7, start);
        if (p.sessionInfo.length === 0) break;
        seen.push(...p.sessionInfo.map((s) => s.sessionId));
        start = p.sessionInfo[p.sessionInfo.length - 1]?.sessionId ?? 0n;
        sw.add(
          {
            inLif: "x",
            outLif: "y",
            ipVersion: "ipv4",
            sourceIp: Uint8Array.of(1, 1, 1, 1),
            sourcePort: Number(extra),
            destinationIp: Uint8Array.of(2, 2, 2, 2),
            destinationPort: 1,
            protocol: "udp",
            action: "drop",
            nextHop: "",
          },
          { id: extra++ },
        );
      }
      expect(new Set(seen).size).toBe(seen.length);
      for (const id of sorted) expect(seen).toContain(id);
    });

    it("streams at most pageSize closed sessions (64 for 0), removes what it delivered, and answers an empty OK stream when none", async () => {
      const sw = memorySwitch(200);
      const { client } = await serve(wrap(sw), host);
      await addBatch(
        client,
        Array.from({ length: 100 }, (_, i) => ooRequest(BigInt(i + 1))),
      );
      for (let i = 1n; i <= 90n; i++) sw.endSession(i, i % 3n === 0n ? "timeout" : "rst");
      const three = await closed(client, 3);
      expect(three.error).toBeUndefined();
      expect(three.sessions.map((s) => s.sessionId)).toEqual([1n, 2n, 3n]);
      expect(three.sessions[2]).toMatchObject({
        sessionState: SESSION_STATE._CLOSED,
        sessionCloseCode: SESSION_CLOSE_CODE._TIMEOUT,
      });
      expect(sw.get(1n)).toBeUndefined();
      const byDefault = await closed(client, 0);
      expect(byDefault.sessions).toHaveLength(64);
      const rest = await closed(client, 1000);
      expect(rest.sessions).toHaveLength(23);
      expect(await closed(client, 10)).toEqual({ sessions: [], error: undefined });
      expect(sw.size()).toBe(10);
    });
  });

  it("answers a switch failure per session (14 UNAVAILABLE, 13 INTERNAL), the rest of the batch unharmed", async () => {
    const inner = memorySwitch();
    const flaky: SwitchBackend = {
      ...inner,
      add(spec, options) {
        if (options?.id === 2n) throw new SwitchUnavailableError("switch link down");
        if (options?.id === 3n) return Promise.reject(new Error("store corrupt"));
        return inner.add(spec, options);
      },
      get() {
        throw new SwitchUnavailableError("switch link down");
      },
    };
    const { client } = await serve(flaky, host);
    const answer = await addBatch(client, [ooRequest(1n), ooRequest(2n), ooRequest(3n), ooRequest(4n)]);
    expect(answer).toMatchObject({
      ok: true,
      value: {
        requestStatus: ADD_SESSION_STATUS._SESSION_TABLE_UNAVAILABLE,
        errorStatus: 0b110n,
        responseError: [
          { sessionId: 2n, errorStatus: status.UNAVAILABLE },
          { sessionId: 3n, errorStatus: status.INTERNAL },
        ],
      },
    });
    expect([...inner.sessions()].map((s) => s.id)).toEqual([1n, 4n]);
    const got = await unary(client, "getSession", 1n);
    expect(!got.ok && got.error.code).toBe(status.UNAVAILABLE);
  });

  it('answers NOT_FOUND "No Closed Sessions" for none when asked to, as the reference library does', async () => {
    const { client } = await serve(memorySwitch(), host, { noClosedSessions: "notFound" });
    const none = await closed(client, 10);
    expect(none.sessions).toEqual([]);
    expect(none.error?.code).toBe(status.NOT_FOUND);
    expect(none.error?.details).toBe("No Closed Sessions");
  });

  it("reads IPv4 fields as struct in_addr (10.0.0.1 is 0x0100000A) and cacheTimeout as the session's idle timeout", async () => {
    const sw = createMemorySwitch({ capacity: 16, traffic: false, tickIntervalMs: 0 });
    cleanups.push(() => sw.close());
    const { client } = await serve(sw, host);
    expect(inAddr(10, 0, 0, 1)).toBe(0x0100000a);
    const v6 = Buffer.from("20010db8000000000000000000000001", "hex");
    const answer = await addBatch(client, [
      ooRequest(1n, { sourceIp: 0x0100000a, destinationIp: 0x010200c0, sourcePort: 40000, cacheTimeout: 30 }),
      ooRequest(2n, { ipVersion: openoffloadV1.IP_VERSION._IPV6, sourceIp: 0, sourceIpV6: v6, destinationIpV6: v6 }),
    ]);
    expect(answer.ok && answer.value.responseError).toEqual([]);
    // The same 7-tuple through the first generation (address bytes in network order) is a duplicate.
    const server = createSessionServer({ backend: sw, credentials: insecure, openoffload: false });
    const v1 = sessionClient(await server.listen("127.0.0.1:0"));
    cleanups.push(() => server.shutdown());
    cleanups.push(() => v1.close());
    const dup = await ok(
      v1.addSession,
      v1,
      request(0, {
        inLif: "1",
        outLif: "2",
        sourceIp: Buffer.from([10, 0, 0, 1]),
        sourcePort: 40000,
        destinationIp: Buffer.from([192, 0, 2, 1]),
      }),
    );
    expect(dup).toMatchObject({
      requestStatus: sessionsV1.REQUEST_STATUS._REJECTED_SESSION_ALREADY_EXISTS,
      sessionId: 1n,
    });
  });
});

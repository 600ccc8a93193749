// The server-wide budget of request bytes held (`TransportLimits.maxHeldRequestBytes`), over real sockets on
// 127.0.0.1 with frames written by hand: connections that send partial messages and never finish them are shed,
// the largest holder first, with GOAWAY ENHANCE_YOUR_CALM; a well-behaved connection keeps being answered; a legal
// upload larger than the budget (consumed as it comes) is never shed; and the held-bytes gauge
// (`TransportStats.heldRequestBytes`) is exact: it comes back to 0 after resets mid-message, forwarded calls,
// calls whose handler never read, and connections that die mid-message.
import { afterEach, describe, expect, it } from "@jest/globals";
import {
  Client,
  credentials,
  type handleClientStreamingCall,
  type ServerReadableStream,
  type ServiceError,
} from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { ClientHttp2Session } from "node:http2";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  createInsecureCredentials,
  createNativeRoute,
  createOffloadServer,
  type OffloadServer,
  type TransportLimits,
} from "../src";
import { createNativeServer, type NativeStream } from "../src/h2";
import { resolveTransportLimits } from "../src/limits";
import { collectMethod, countingSum, frame, identity, rawCall } from "./call-support";
import {
  echoHandlers,
  echoService,
  F,
  RawClient,
  rawFrame,
  requestBlock,
  streamMethod,
  T,
  u32,
  UNARY_PATH,
  unaryMethod,
  type EchoState,
  echo,
  serveWhile,
  wellBehavedSession,
} from "./native-transport-support";

const ENHANCE_YOUR_CALM = 0xb;
const CANCEL = 0x8;
const MiB = 1024 * 1024;
const FRAME = 16_384;
// A well-behaved call must be answered within this long while an attack runs (generous: a busy 2-core machine).
const LIVENESS_MS = 5000;
const HEALTH_CHECK = "/grpc.health.v1.Health/Check";

// Sum reads every message as it comes and answers "count:bytes" at the half-close.
const SUM = collectMethod("Sum");
// Hold never reads its messages and never answers by itself.
const HOLD = collectMethod("Hold");

const holdCalls: ServerReadableStream<Buffer, Buffer>[] = [];
let holdCancelled = 0;
const hold: handleClientStreamingCall<Buffer, Buffer> = (call) => {
  holdCalls.push(call);
  call.on("cancelled", () => (holdCancelled += 1));
};

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

// The echo service (native unary and server-streaming routes), Sum and Hold (native client-streaming routes) and
// health (served by grpc-js: forwarded), with `limits`.
async function start(limits: Partial<TransportLimits>): Promise<{ server: OffloadServer; port: number }> {
  const state: EchoState = { entered: 0, cancelled: 0, release: () => undefined };
  const handlers = echoHandlers(state);
  const server = createOffloadServer({
    credentials: createInsecureCredentials(),
    install: (s) => {
      s.addService(echoService, handlers);
      s.addService({ Sum: SUM, Hold: HOLD }, { Sum: countingSum, Hold: hold });
    },
    addOns: [new HealthImplementation({ "": "SERVING" })],
    nativeRoutes: [
      createNativeRoute(unaryMethod, handlers.unary),
      createNativeRoute(streamMethod, handlers.stream),
      createNativeRoute(SUM, countingSum),
      createNativeRoute(HOLD, hold),
    ],
    limits,
  });
  cleanups.push(() => server.forceShutdown());
  const port = await server.listen("127.0.0.1:0");
  expect(server.transport).toBe("native");
  return { server, port };
}

async function raw(port: number): Promise<RawClient> {
  const client = await RawClient.connect(port);
  cleanups.push(() => client.close());
  return client;
}

function held(server: OffloadServer): number {
  return server.transportStats().heldRequestBytes;
}

// Waits (up to 5 s) for the held-bytes gauge to read `expected`; answers what it read last, for `expect`.
async function heldSettles(server: OffloadServer, expected: number): Promise<number> {
  const until = Date.now() + 5000;
  while (held(server) !== expected && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  return held(server);
}

// Waits (up to 10 s) for the held-bytes gauge to fall below `bound` (forwarded bytes count until grpc-js's stream
// has taken them, which on a busy machine may be a while); answers what it read last, for `expect`.
async function heldFallsBelow(server: OffloadServer, bound: number): Promise<number> {
  const until = Date.now() + 10_000;
  while (held(server) >= bound && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  return held(server);
}

// Records the greatest value of the held-bytes gauge, sampled between event-loop turns, until stopped.
function sampleHeld(server: OffloadServer): { stop(): number } {
  let most = held(server);
  const timer = setInterval(() => (most = Math.max(most, held(server))), 1);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(most, held(server));
    },
  };
}

// Resolves once the server has handled every frame the client sent before (its PING ACK is queued after them), or
// once the connection closed.
async function roundTrip(client: RawClient, tag: number): Promise<void> {
  const payload = Buffer.alloc(8);
  payload.writeUInt32BE(tag, 4);
  client.write(rawFrame(T.PING, 0, 0, payload));
  await client.waitFor((f) => f.type === T.PING && (f.flags & F.ACK) !== 0 && f.payload.equals(payload));
}

// Waits (up to 5 s) for the client's socket to close; answers whether it did.
async function closedSoon(client: RawClient): Promise<boolean> {
  await Promise.race([client.waitClosed(), new Promise((r) => setTimeout(r, 5000))]);
  return client.closed;
}

function goawayCode(client: RawClient): number | undefined {
  return client.frames.find((f) => f.type === T.GOAWAY)?.payload.readUInt32BE(4);
}

// HEADERS of a call of `path` on stream `id`, and `bytes` of its request: a gRPC message announced as 3 MiB
// (never finished) when `announce` is set, else zeros.
function partialCall(id: number, bytes: number, path = UNARY_PATH, announce = true): Buffer[] {
  const frames = [rawFrame(T.HEADERS, F.END_HEADERS, id, requestBlock(path))];
  for (let sent = 0; sent < bytes; sent += FRAME) {
    const payload = Buffer.alloc(Math.min(FRAME, bytes - sent));
    if (sent === 0 && announce) payload.writeUInt32BE(3 * MiB, 1);
    frames.push(rawFrame(T.DATA, 0, id, payload));
  }
  return frames;
}

// `streams` calls (ids 1, 3, ...) each sending 1 MiB of a 3 MiB unary message (the stream window) and no more.
function partialUnaries(streams: number): Buffer[] {
  const frames: Buffer[] = [];
  for (let i = 0; i < streams; i++) frames.push(...partialCall(2 * i + 1, MiB));
  return frames;
}

/** A well-behaved client on its own connection (Node's http2), closed after the test. */
function wellBehaved(port: number): ClientHttp2Session {
  const s = wellBehavedSession(port);
  cleanups.push(() => s.destroy());
  return s;
}

// Runs `attack` while a well-behaved connection keeps calling (see `serveWhile`).
function whileServing(port: number, attack: () => Promise<void>): Promise<{ calls: number; grewBy: number }> {
  return serveWhile(wellBehaved(port), attack, LIVENESS_MS);
}

describe("the server-wide budget of held request bytes", () => {
  it("sheds the connection holding the most with GOAWAY ENHANCE_YOUR_CALM; the others stay", async () => {
    const { server, port } = await start({ maxHeldRequestBytes: 8 * MiB });
    await whileServing(port, async () => {
      const abuser = await raw(port);
      abuser.write(...partialUnaries(5)); // 5 MiB, never finished
      await roundTrip(abuser, 1);
      expect(held(server)).toBe(5 * MiB);
      const second = await raw(port);
      second.write(...partialUnaries(2));
      await roundTrip(second, 2);
      expect(held(server)).toBe(7 * MiB);
      const third = await raw(port);
      third.write(...partialUnaries(2)); // 9 MiB held in all once it is in: the abuser (5 MiB) is shed
      await roundTrip(third, 3);
      expect(await closedSoon(abuser)).toBe(true);
      expect(goawayCode(abuser)).toBe(ENHANCE_YOUR_CALM);
      expect(held(server)).toBe(4 * MiB);
      for (const client of [second, third]) {
        expect(goawayCode(client)).toBeUndefined();
        expect(client.closed).toBe(false);
      }
      expect(server.transportStats().limitHits.heldRequestBytes).toBe(1);
      expect(server.transportStats().goaway.ENHANCE_YOUR_CALM).toBe(1);
      second.close();
      third.close();
    });
    expect(await heldSettles(server, 0)).toBe(0);
  });

  it("keeps the sum within the budget while many connections each send partial messages", async () => {
    const { server, port } = await start({ maxHeldRequestBytes: 8 * MiB });
    const sampler = sampleHeld(server);
    const clients: RawClient[] = [];
    await whileServing(port, async () => {
      for (let i = 0; i < 8; i++) {
        const client = await raw(port);
        clients.push(client);
        client.write(...partialUnaries(4)); // 4 streams x 1 MiB of 3 MiB messages: 32 MiB offered in all
        await roundTrip(client, i);
      }
    });
    const most = sampler.stop();
    expect(most).toBeLessThanOrEqual(8 * MiB);
    const shed = clients.filter((c) => goawayCode(c) === ENHANCE_YOUR_CALM);
    const kept = clients.filter((c) => goawayCode(c) === undefined && !c.closed);
    expect(shed.length).toBeGreaterThanOrEqual(6);
    expect(shed.length + kept.length).toBe(clients.length);
    expect(server.transportStats().limitHits.heldRequestBytes).toBe(shed.length);
    expect(held(server)).toBe(kept.length * 4 * MiB); // every byte of the kept ones is in, and counted
    for (const client of clients) client.close();
    expect(await heldSettles(server, 0)).toBe(0);
  });

  it("sheds connections whose client-streaming handlers do not read, and their calls are cancelled", async () => {
    const { server, port } = await start({ maxHeldRequestBytes: 8 * MiB });
    const cancelledBefore = holdCancelled;
    const callsBefore = holdCalls.length;
    const sampler = sampleHeld(server);
    const clients: RawClient[] = [];
    await whileServing(port, async () => {
      for (let i = 0; i < 4; i++) {
        const client = await raw(port);
        clients.push(client);
        // 4 calls of Hold, each sending its stream window (1 MiB) of messages the handler never reads.
        const frames: Buffer[] = [];
        for (let id = 1; id < 8; id += 2) frames.push(...partialCall(id, MiB, HOLD.path, false));
        client.write(...frames);
        await roundTrip(client, i);
      }
    });
    expect(sampler.stop()).toBeLessThanOrEqual(8 * MiB);
    expect(holdCalls.length).toBe(callsBefore + 16);
    const shed = clients.filter((c) => goawayCode(c) === ENHANCE_YOUR_CALM);
    expect(shed.length).toBe(2);
    expect(server.transportStats().limitHits.heldRequestBytes).toBe(2);
    expect(held(server)).toBe(8 * MiB);
    await new Promise((r) => setTimeout(r, 50));
    expect(holdCancelled).toBe(cancelledBefore + 8); // the calls of the shed connections
    for (const client of clients) client.close();
    expect(await heldSettles(server, 0)).toBe(0);
  });

  it("never sheds a legal client-streaming upload larger than the budget, consumed as it comes", async () => {
    const { server, port } = await start({ maxHeldRequestBytes: 1 * MiB, streamWindowBytes: 256 * 1024 });
    const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
    cleanups.push(() => client.close());
    const sampler = sampleHeld(server);
    const upload = (messages: number): Promise<string> =>
      new Promise((resolve, reject) => {
        const call = client.makeClientStreamRequest(
          SUM.path,
          identity,
          identity,
          (error: ServiceError | null, reply?: Buffer) => {
            if (error !== null) reject(error);
            else resolve((reply as Buffer).toString("latin1"));
          },
        );
        const message = Buffer.alloc(FRAME, 0x61);
        for (let i = 0; i < messages; i++) call.write(message);
        call.end();
      });
    // 16 MiB and 8 MiB at once on one connection, 16 times the budget in all.
    expect(await Promise.all([upload(1024), upload(512)])).toEqual([`1024:${16 * MiB}`, `512:${8 * MiB}`]);
    const most = sampler.stop();
    expect(most).toBeLessThanOrEqual(MiB);
    expect(server.transportStats().limitHits.heldRequestBytes).toBeUndefined();
    expect(await heldSettles(server, 0)).toBe(0);
  });
});

describe("the held-bytes gauge", () => {
  it("counts exactly what is held and comes back to 0 after resets mid-message, the connection still open", async () => {
    const { server, port } = await start({});
    const client = await raw(port);
    // A unary message cut off by the client's reset.
    client.write(...partialCall(1, 100_000));
    await roundTrip(client, 1);
    expect(held(server)).toBe(100_000);
    client.write(rawFrame(T.RST_STREAM, 0, 1, u32(CANCEL)));
    await roundTrip(client, 2);
    expect(held(server)).toBe(0);
    // A client-streaming call whose handler never reads: held until the reset.
    const holding = holdCalls.length;
    client.write(...partialCall(3, 200_000, HOLD.path, false));
    await roundTrip(client, 3);
    expect(holdCalls.length).toBe(holding + 1);
    expect(held(server)).toBe(200_000);
    client.write(rawFrame(T.RST_STREAM, 0, 3, u32(CANCEL)));
    await roundTrip(client, 4);
    expect(await heldSettles(server, 0)).toBe(0);
    // A forwarded call (health Check, served by grpc-js) cut off mid-message.
    client.write(...partialCall(5, 50_000, HEALTH_CHECK));
    await roundTrip(client, 5);
    client.write(rawFrame(T.RST_STREAM, 0, 5, u32(CANCEL)));
    await roundTrip(client, 6);
    expect(await heldSettles(server, 0)).toBe(0);
    // Padding is given back at once: a padded DATA frame of a partial message holds its data only.
    client.write(rawFrame(T.HEADERS, F.END_HEADERS, 7, requestBlock(UNARY_PATH)));
    const padded = Buffer.concat([Buffer.from([200]), Buffer.alloc(1000), Buffer.alloc(200)]);
    padded.writeUInt32BE(3 * MiB, 2);
    client.write(rawFrame(T.DATA, F.PADDED, 7, padded));
    await roundTrip(client, 7);
    expect(held(server)).toBe(1000);
    client.write(rawFrame(T.RST_STREAM, 0, 7, u32(CANCEL)));
    await roundTrip(client, 8);
    expect(held(server)).toBe(0);
    expect(client.closed).toBe(false);
  });

  it("comes back to 0 after forwarded and native calls complete, and after connections die mid-message", async () => {
    const { server, port } = await start({});
    // Forwarded calls, whole.
    for (let i = 0; i < 3; i++) {
      const health = await rawCall(port, HEALTH_CHECK, [frame(Buffer.alloc(0))]);
      expect(health?.code).toBe(0);
    }
    const s = wellBehaved(port);
    for (let i = 0; i < 5; i++) await echo(s);
    expect(await heldSettles(server, 0)).toBe(0);
    // Connections that die with partial messages: unary, a client-streaming call that never reads, forwarded.
    const cancelledBefore = holdCancelled;
    const dying = await raw(port);
    dying.write(
      ...partialCall(1, 300_000),
      ...partialCall(3, 300_000, HOLD.path, false),
      ...partialCall(5, 300_000, HEALTH_CHECK),
    );
    await roundTrip(dying, 1);
    expect(held(server)).toBeGreaterThanOrEqual(600_000); // the forwarded bytes may be with grpc-js already
    dying.close();
    expect(await heldSettles(server, 0)).toBe(0);
    await new Promise((r) => setTimeout(r, 50));
    expect(holdCancelled).toBe(cancelledBefore + 1);
    await echo(s);
    expect(held(server)).toBe(0);
  });

  it("lets go of what a stream's reader took and never reported consumed, when the stream closes", async () => {
    // A reader that defers consumption and never reports it (a stuck handler): its bytes are held while the stream
    // is open, and let go of when it closes, by the client's reset or by our own.
    const streams: NativeStream[] = [];
    const native = createNativeServer({
      limits: resolveTransportLimits({}),
      onStream: (stream) => {
        stream.defersConsumption = true;
        stream.on("data", () => undefined);
        streams.push(stream);
      },
    });
    cleanups.push(() => native.destroy());
    const port = await native.listen("127.0.0.1", 0);
    const client = await raw(port);
    client.write(...partialCall(1, 70_000), ...partialCall(3, 30_000));
    await roundTrip(client, 1);
    expect(native.counters.snapshot().heldRequestBytes).toBe(100_000);
    streams[0]!.consumed(20_000);
    streams[0]!.consumed(1_000_000); // more than it took counts as what it took
    expect(native.counters.snapshot().heldRequestBytes).toBe(30_000);
    client.write(rawFrame(T.RST_STREAM, 0, 3, u32(CANCEL)));
    await roundTrip(client, 2);
    expect(native.counters.snapshot().heldRequestBytes).toBe(0);
    client.write(...partialCall(5, 40_000));
    await roundTrip(client, 3);
    expect(native.counters.snapshot().heldRequestBytes).toBe(40_000);
    streams[2]!.close();
    expect(native.counters.snapshot().heldRequestBytes).toBe(0);
    streams[2]!.consumed(40_000); // a late report of a closed stream's data counts for nothing
    expect(native.counters.snapshot().heldRequestBytes).toBe(0);
    expect(client.closed).toBe(false);
  });
});

// The collector, for memory measured without garbage (Jest runs without --expose-gc).
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

// Heap and ArrayBuffer bytes in use after a full collection.
function liveBytes(): number {
  collectGarbage();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

// HEADERS of a call of `path` on stream `id`, a message announced as 3 MiB, then `bytes` of it a byte per DATA frame.
function drippedCall(id: number, path: string, bytes: number): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(3 * MiB, 1);
  const frames = [rawFrame(T.HEADERS, F.END_HEADERS, id, requestBlock(path)), rawFrame(T.DATA, 0, id, prefix)];
  const one = rawFrame(T.DATA, 0, id, Buffer.from("a"));
  for (let i = 0; i < bytes; i++) frames.push(one);
  return Buffer.concat(frames);
}

describe("requests sent a byte per DATA frame", () => {
  // 4 calls x 100,000 one-byte frames: 400 KB of requests. Kept as a Buffer per frame, they held about 40 MB (a
  // native unary call), 120 MB (forwarded to grpc-js: a write and a grpc-js chunk per frame); a client-streaming
  // call's reassembly took the announced 3 MiB at once.
  it.each([
    ["a native unary call", UNARY_PATH, true],
    ["a native client-streaming call", HOLD.path, true],
    ["a call forwarded to grpc-js", HEALTH_CHECK, false],
  ])("hold about their own size on %s", async (_, path, heldHere) => {
    const { server, port } = await start({});
    const before = liveBytes();
    await whileServing(port, async () => {
      const client = await raw(port);
      for (let id = 1; id < 8; id += 2) client.write(drippedCall(id, path, 100_000));
      await roundTrip(client, 1);
      expect(client.closed).toBe(false);
    });
    // Held: the 400 KB sent (twice that at most while a buffer grows) and no more than a few MiB besides.
    expect(liveBytes() - before).toBeLessThan(6 * MiB);
    // The transport holds them all, or (forwarded) what it gathers before passing on: under 16 KiB a call.
    if (heldHere) expect(await heldSettles(server, 4 * (5 + 100_000))).toBe(4 * (5 + 100_000));
    else expect(await heldFallsBelow(server, 4 * 16 * 1024)).toBeLessThan(4 * 16 * 1024);
  });
});

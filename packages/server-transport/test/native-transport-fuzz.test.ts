// The HTTP/2 servers (native transport, and grpc-js's) against hostile input: random, well-framed
// sequences of frames (valid request headers and gRPC bodies mixed with bad
// flags, stream ids, padding, settings, window updates, CONTINUATION out of
// place, unknown and client-forbidden types, oversize frames, header blocks
// of random bytes) over real sockets. Whatever a connection is sent, the
// server must either keep it usable (it answers a PING after the sequence) or
// end it (GOAWAY; ours also closes the socket) within a bounded time, never
// throw, and go on serving a proper call on a fresh connection.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import type { OffloadServer, OffloadTransport } from "../src";
import { frame, unframe } from "./call-support";
import {
  echoHandlers,
  echoService,
  F,
  RawClient,
  rawFrame,
  requestBlock,
  settingsPayload,
  startEchoServer,
  STREAM_PATH,
  T,
  UNARY_PATH,
  type RawFrame,
} from "./native-transport-support";

const PUSH_PROMISE = 5;
const streamIdArb = fc.oneof(
  fc.constantFrom(0, 1, 3, 5, 7, 2, 4, 0x7fffffff),
  fc.integer({ min: 0, max: 0x7fffffff }),
  fc.constant(0x80000001), // the reserved bit set
);
const flagsArb = fc.oneof(fc.constantFrom(0, F.END_STREAM, F.END_HEADERS, F.END_STREAM | F.END_HEADERS), fc.nat(255));
const bytesArb = (max: number): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ maxLength: max }).map((bytes) => Buffer.from(bytes));
const u32 = (value: number): Buffer => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out;
};

/** One frame (always well-framed: the length field matches the payload), as bytes. */
const frameArb: fc.Arbitrary<Buffer> = fc.oneof(
  // A proper request start on some stream, sometimes without END_HEADERS.
  fc
    .record({
      stream: streamIdArb,
      flags: flagsArb,
      path: fc.constantFrom(UNARY_PATH, STREAM_PATH, "/nope.Svc/M", "*"),
    })
    .map(({ stream, flags, path }) => rawFrame(T.HEADERS, flags, stream, requestBlock(path))),
  // A header block of random bytes (HPACK garbage), or a random CONTINUATION.
  fc
    .record({
      type: fc.constantFrom(T.HEADERS, T.CONTINUATION),
      stream: streamIdArb,
      flags: flagsArb,
      block: bytesArb(48),
    })
    .map(({ type, stream, flags, block }) => rawFrame(type, flags, stream, block)),
  // A gRPC message, a random body, or a DATA frame whose pad length lies.
  fc
    .record({ stream: streamIdArb, flags: flagsArb, message: bytesArb(32), framed: fc.boolean() })
    .map(({ stream, flags, message, framed }) => rawFrame(T.DATA, flags, stream, framed ? frame(message) : message)),
  fc
    .record({ stream: streamIdArb, pad: fc.nat(255), body: bytesArb(16) })
    .map(({ stream, pad, body }) => rawFrame(T.DATA, F.PADDED, stream, Buffer.concat([Buffer.of(pad), body]))),
  // Flow control: any increment (0 and 2^31-1 included) on any stream.
  fc
    .record({ stream: streamIdArb, increment: fc.oneof(fc.constantFrom(0, 1, 0x7fffffff), fc.nat()) })
    .map(({ stream, increment }) => rawFrame(T.WINDOW_UPDATE, 0, stream, u32(increment))),
  // SETTINGS with any ids and values (bad window sizes and frame sizes included), ACKs with payloads.
  fc
    .record({
      entries: fc.array(
        fc.tuple(fc.nat(8), fc.oneof(fc.constantFrom(0, 1, 16383, 16384, 0x7fffffff, 0x80000000), fc.nat())),
        {
          maxLength: 4,
        },
      ),
      ack: fc.boolean(),
      stream: fc.constantFrom(0, 0, 1),
    })
    .map(({ entries, ack, stream }) => rawFrame(T.SETTINGS, ack ? F.ACK : 0, stream, settingsPayload(entries))),
  // RST_STREAM, PRIORITY (self-dependency included), PING and GOAWAY of right or wrong sizes.
  fc
    .record({
      type: fc.constantFrom(T.RST_STREAM, T.PRIORITY, T.PING, T.GOAWAY),
      stream: streamIdArb,
      body: bytesArb(12),
    })
    .map(({ type, stream, body }) => rawFrame(type, 0, stream, body)),
  fc
    .record({ stream: streamIdArb })
    .map(({ stream }) => rawFrame(T.PRIORITY, 0, stream, Buffer.concat([u32(stream), Buffer.of(7)]))),
  // Types a client may not send, and unknown types (to be ignored).
  fc
    .record({ type: fc.constantFrom(PUSH_PROMISE, 10, 11, 0xfa, 0xff), stream: streamIdArb, body: bytesArb(16) })
    .map(({ type, stream, body }) => rawFrame(type, 0, stream, body)),
  // A frame larger than the default SETTINGS_MAX_FRAME_SIZE.
  fc.constant(rawFrame(T.DATA, 0, 1, Buffer.alloc(16_385))),
);

/**
 * A sequence a correct client may send: requests on new odd stream ids in
 * order (some with a gRPC message and END_STREAM, some left open), window
 * updates, PINGs, valid SETTINGS and frames of unknown types.
 */
const benignArb: fc.Arbitrary<Buffer[]> = fc
  .array(
    fc.oneof(
      fc.record({
        kind: fc.constant("request" as const),
        path: fc.constantFrom(UNARY_PATH, STREAM_PATH, "/nope.Svc/M"),
        message: fc.option(bytesArb(32)),
      }),
      fc.record({ kind: fc.constant("window" as const), increment: fc.integer({ min: 1, max: 1_000_000 }) }),
      fc.record({ kind: fc.constant("ping" as const), body: fc.uint8Array({ minLength: 8, maxLength: 8 }) }),
      fc.record({
        kind: fc.constant("settings" as const),
        window: fc.integer({ min: 0, max: 0x7fffffff }),
        frameSize: fc.integer({ min: 16_384, max: 16_777_215 }),
      }),
      fc.record({ kind: fc.constant("unknown" as const), type: fc.integer({ min: 10, max: 255 }), body: bytesArb(16) }),
    ),
    { minLength: 1, maxLength: 8 },
  )
  .map((ops) => {
    let stream = -1;
    return ops.flatMap((op) => {
      switch (op.kind) {
        case "request": {
          stream += 2;
          const headers = rawFrame(T.HEADERS, F.END_HEADERS, stream, requestBlock(op.path));
          return op.message === null ? [headers] : [headers, rawFrame(T.DATA, F.END_STREAM, stream, frame(op.message))];
        }
        case "window":
          return [rawFrame(T.WINDOW_UPDATE, 0, 0, u32(op.increment))];
        case "ping":
          return [rawFrame(T.PING, 0, 0, Buffer.from(op.body))];
        case "settings":
          return [
            rawFrame(
              T.SETTINGS,
              0,
              0,
              settingsPayload([
                [4, op.window],
                [5, op.frameSize],
              ]),
            ),
          ];
        case "unknown":
          return [rawFrame(op.type, 0, 0, op.body)];
      }
    });
  });

const PING_DATA = Buffer.from("fuzzping");
const timeout = (ms: number): Promise<"timeout"> =>
  new Promise((resolve) => setTimeout(() => resolve("timeout"), ms).unref());

/**
 * Writes `frames` and a PING; resolves with the server's first PING ACK for
 * it or GOAWAY (usable or ended), undefined if the socket closed first, or
 * "timeout" after 3 s of neither.
 */
async function sendThenPing(client: RawClient, frames: readonly Buffer[]): Promise<RawFrame | undefined | "timeout"> {
  client.write(...frames, rawFrame(T.PING, 0, 0, PING_DATA));
  const answer = client.waitFor(
    (f) => f.type === T.GOAWAY || (f.type === T.PING && (f.flags & F.ACK) !== 0 && f.payload.equals(PING_DATA)),
  );
  return Promise.race([answer, timeout(3000)]);
}

async function properCall(port: number): Promise<void> {
  const client = await RawClient.connect(port);
  try {
    client.write(
      rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock(UNARY_PATH)),
      rawFrame(T.DATA, F.END_STREAM, 1, frame(Buffer.from("still here"))),
    );
    const { blocks, data } = await client.response(1);
    expect(blocks.at(-1)?.["grpc-status"]).toBe("0");
    expect(unframe(data).map((m) => m.toString())).toEqual(["still here"]);
  } finally {
    client.close();
  }
}

const transports: readonly OffloadTransport[] = ["native", "grpc-js"];

describe.each(transports)("%s transport under hostile frames", (transport) => {
  let server: OffloadServer;
  let port: number;
  beforeAll(async () => {
    ({ server, port } = await startEchoServer({ shutdownTimeoutMs: 2000, transport }));
    expect(server.transport).toBe(transport);
  });
  afterAll(async () => {
    await server.shutdown();
  });

  it.each([UNARY_PATH, "/nope.Svc/M", "/grpc.health.v1.Health/Check"])(
    "survives HEADERS for %s and an RST_STREAM with an error code in one packet",
    async (path) => {
      // grpc-js answers an unknown method without an 'error' listener on the stream: before the
      // hook, this reset threw ERR_HTTP2_STREAM_ERROR out of the event loop and killed the process.
      for (const code of [1, 2, 0xa3c4d5e2]) {
        const client = await RawClient.connect(port);
        try {
          client.write(
            rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock(path)),
            rawFrame(T.RST_STREAM, 0, 1, u32(code)),
          );
          client.write(rawFrame(T.PING, 0, 0, PING_DATA));
          expect(await client.waitFor((f) => f.type === T.PING && (f.flags & F.ACK) !== 0)).toBeDefined();
        } finally {
          client.close();
        }
        // Let the server side run the reset through (the crash came a turn later).
        await new Promise((resolve) => setTimeout(resolve, 20));
        await properCall(port);
      }
    },
  );

  it("keeps each connection usable or ends it, and serves the next one", async () => {
    let ended = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(frameArb, { minLength: 1, maxLength: 6 }), async (frames) => {
        const client = await RawClient.connect(port);
        try {
          const outcome = await sendThenPing(client, frames);
          expect(outcome).not.toBe("timeout");
          if (outcome === undefined || (outcome !== "timeout" && outcome.type === T.GOAWAY)) {
            ended += 1;
            // After a connection error ours also closes the socket (Node's http2, under grpc-js, may
            // leave it open after its GOAWAY); a GOAWAY without error answers the client's own
            // GOAWAY and lets the client's open streams finish.
            const errorGoaway = outcome !== undefined && outcome.payload.readUInt32BE(4) !== 0;
            if (transport === "native" && (outcome === undefined || errorGoaway)) {
              expect(await Promise.race([client.waitClosed(), timeout(3000)])).not.toBe("timeout");
            }
          }
        } finally {
          client.close();
        }
        await properCall(port);
      }),
      { numRuns: 300 },
    );
    expect(ended).toBeGreaterThan(30); // the hostile generator does reach connection errors
  }, 120_000);

  it("keeps a connection usable through any sequence a correct client may send", async () => {
    await fc.assert(
      fc.asyncProperty(benignArb, async (frames) => {
        const client = await RawClient.connect(port);
        try {
          const outcome = await sendThenPing(client, frames);
          expect(outcome === undefined || outcome === "timeout" ? outcome : outcome.type).toBe(T.PING);
        } finally {
          client.close();
        }
      }),
      { numRuns: 200 },
    );
    await properCall(port);
  }, 120_000);
});

describe("a plain grpc-js Server (grpc-js >= 1.14.7, no guard of ours)", () => {
  it("stays alive through the reset of an unknown method in the packet of its HEADERS", async () => {
    const server = new Server();
    server.addService(echoService, echoHandlers({ entered: 0, cancelled: 0, release: () => undefined }));
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      ),
    );
    try {
      const client = await RawClient.connect(port);
      client.write(
        rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock("/nope.Svc/M")),
        rawFrame(T.RST_STREAM, 0, 1, u32(2)),
        rawFrame(T.PING, 0, 0, PING_DATA),
      );
      expect(await client.waitFor((f) => f.type === T.PING && (f.flags & F.ACK) !== 0)).toBeDefined();
      client.close();
      await new Promise((resolve) => setTimeout(resolve, 20));
      await properCall(port);
    } finally {
      server.forceShutdown();
    }
  });
});

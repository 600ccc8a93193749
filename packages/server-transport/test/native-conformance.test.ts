// The native transport against an adversarial checklist of RFC 9113 (framing,
// stream states, flow control, SETTINGS), slow peers and the gRPC wire
// format, over real sockets on 127.0.0.1 with frames written by hand: each
// case gets the answer the RFC names (GOAWAY or RST_STREAM and its code, or a
// gRPC status), and a second connection is still answered afterwards.
import { afterEach, beforeAll, afterAll, describe, expect, it } from "@jest/globals";
import { connect as connectH2 } from "node:http2";
import { connect as connectNet } from "node:net";
import {
  F,
  grpcMessage,
  postUnary,
  PREFACE,
  RawClient,
  rawFrame,
  u32,
  requestBlock,
  settingsPayload,
  startEchoServer,
  STREAM_PATH,
  T,
  UNARY_PATH,
} from "./native-transport-support";
import type { OffloadServer } from "../src";

const NO_ERROR = 0x0;
const PROTOCOL_ERROR = 0x1;
const FLOW_CONTROL_ERROR = 0x3;
const STREAM_CLOSED = 0x5;
const FRAME_SIZE_ERROR = 0x6;

let server: OffloadServer;
let port: number;
beforeAll(async () => {
  ({ server, port } = await startEchoServer());
});
afterAll(async () => {
  await server.forceShutdown();
});

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function raw(options?: Parameters<typeof RawClient.connect>[1], at = port): Promise<RawClient> {
  const client = await RawClient.connect(at, options);
  cleanups.push(() => client.close());
  return client;
}

const open = (id: number, path = STREAM_PATH): Buffer => rawFrame(T.HEADERS, F.END_HEADERS, id, requestBlock(path));

function goawayCode(client: RawClient): Promise<number | undefined> {
  return client.waitFor((f) => f.type === T.GOAWAY).then((f) => f?.payload.readUInt32BE(4));
}

function resetCode(client: RawClient, stream: number): Promise<number | undefined> {
  return client.waitFor((f) => f.type === T.RST_STREAM && f.stream === stream).then((f) => f?.payload.readUInt32BE(0));
}

// Another connection's call is answered (the server lives and serves).
async function anotherConnectionServed(at = port): Promise<void> {
  const s = connectH2(`http://127.0.0.1:${at}`);
  s.on("error", () => undefined);
  try {
    const { data, status } = await postUnary(s, "alive");
    expect(status).toBe("0");
    expect(data.subarray(5).toString()).toBe("alive");
  } finally {
    s.destroy();
  }
}

describe("connection errors: GOAWAY with the RFC's code", () => {
  const cases: Array<[string, () => Buffer[], number]> = [
    ["DATA on an idle stream", () => [rawFrame(T.DATA, 0, 1, grpcMessage("x"))], PROTOCOL_ERROR],
    ["HEADERS on an even (server) stream id", () => [open(2)], PROTOCOL_ERROR],
    ["DATA on an even stream id", () => [rawFrame(T.DATA, 0, 2, grpcMessage("x"))], PROTOCOL_ERROR],
    ["a stream id lower than one opened (HEADERS)", () => [open(5), open(3)], PROTOCOL_ERROR],
    [
      "a stream id lower than one opened (HEADERS with END_STREAM)",
      () => [open(5), rawFrame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 3, requestBlock(UNARY_PATH))],
      PROTOCOL_ERROR,
    ],
    ["RST_STREAM on an idle stream", () => [rawFrame(T.RST_STREAM, 0, 1, u32(8))], PROTOCOL_ERROR],
    ["WINDOW_UPDATE on an idle stream", () => [rawFrame(T.WINDOW_UPDATE, 0, 1, u32(10))], PROTOCOL_ERROR],
    ["WINDOW_UPDATE of 0 on the connection", () => [rawFrame(T.WINDOW_UPDATE, 0, 0, u32(0))], PROTOCOL_ERROR],
    [
      "connection window past 2^31-1",
      () => [rawFrame(T.WINDOW_UPDATE, 0, 0, u32(0x7fffffff)), rawFrame(T.WINDOW_UPDATE, 0, 0, u32(0x7fffffff))],
      FLOW_CONTROL_ERROR,
    ],
    ["SETTINGS_ENABLE_PUSH 2", () => [rawFrame(T.SETTINGS, 0, 0, settingsPayload([[2, 2]]))], PROTOCOL_ERROR],
    [
      "SETTINGS_INITIAL_WINDOW_SIZE 2^31",
      () => [rawFrame(T.SETTINGS, 0, 0, settingsPayload([[4, 0x80000000]]))],
      FLOW_CONTROL_ERROR,
    ],
    [
      "SETTINGS_INITIAL_WINDOW_SIZE raising an open stream's window past 2^31-1",
      () => [
        open(1),
        rawFrame(T.WINDOW_UPDATE, 0, 1, u32(0x7fffffff - 65535)),
        rawFrame(T.SETTINGS, 0, 0, settingsPayload([[4, 65536]])),
      ],
      FLOW_CONTROL_ERROR,
    ],
    [
      "SETTINGS_MAX_FRAME_SIZE 16383",
      () => [rawFrame(T.SETTINGS, 0, 0, settingsPayload([[5, 16383]]))],
      PROTOCOL_ERROR,
    ],
    [
      "SETTINGS_MAX_FRAME_SIZE 2^24",
      () => [rawFrame(T.SETTINGS, 0, 0, settingsPayload([[5, 0x1000000]]))],
      PROTOCOL_ERROR,
    ],
    ["SETTINGS of a length not a multiple of 6", () => [rawFrame(T.SETTINGS, 0, 0, Buffer.alloc(7))], FRAME_SIZE_ERROR],
    ["SETTINGS ACK with a payload", () => [rawFrame(T.SETTINGS, F.ACK, 0, Buffer.alloc(6))], FRAME_SIZE_ERROR],
    ["SETTINGS on a stream", () => [rawFrame(T.SETTINGS, 0, 1)], PROTOCOL_ERROR],
    [
      "DATA whose padding length is the payload's",
      () => [open(1), rawFrame(T.DATA, F.PADDED, 1, Buffer.from([3, 0, 0]))],
      PROTOCOL_ERROR,
    ],
    [
      "HEADERS whose padding length is past the payload",
      () => [
        rawFrame(T.HEADERS, F.END_HEADERS | F.PADDED, 1, Buffer.concat([Buffer.from([200]), requestBlock(UNARY_PATH)])),
      ],
      PROTOCOL_ERROR,
    ],
    [
      "a frame larger than SETTINGS_MAX_FRAME_SIZE",
      () => [open(1), rawFrame(T.DATA, 0, 1, Buffer.alloc(16_385))],
      FRAME_SIZE_ERROR,
    ],
    [
      "HEADERS without END_HEADERS, then a frame other than CONTINUATION",
      () => [rawFrame(T.HEADERS, 0, 1, requestBlock(UNARY_PATH)), rawFrame(T.PING, 0, 0, Buffer.alloc(8))],
      PROTOCOL_ERROR,
    ],
    [
      "CONTINUATION on another stream",
      () => [rawFrame(T.HEADERS, 0, 1, requestBlock(UNARY_PATH)), rawFrame(T.CONTINUATION, F.END_HEADERS, 3)],
      PROTOCOL_ERROR,
    ],
    ["CONTINUATION without HEADERS", () => [rawFrame(T.CONTINUATION, F.END_HEADERS, 1)], PROTOCOL_ERROR],
    ["RST_STREAM on stream 0", () => [rawFrame(T.RST_STREAM, 0, 0, u32(8))], PROTOCOL_ERROR],
    ["RST_STREAM of 3 bytes", () => [open(1), rawFrame(T.RST_STREAM, 0, 1, Buffer.alloc(3))], FRAME_SIZE_ERROR],
    ["PING of 7 bytes", () => [rawFrame(T.PING, 0, 0, Buffer.alloc(7))], FRAME_SIZE_ERROR],
    ["PING on a stream", () => [rawFrame(T.PING, 0, 1, Buffer.alloc(8))], PROTOCOL_ERROR],
    ["WINDOW_UPDATE of 3 bytes", () => [rawFrame(T.WINDOW_UPDATE, 0, 0, Buffer.alloc(3))], FRAME_SIZE_ERROR],
    ["GOAWAY on a stream", () => [rawFrame(T.GOAWAY, 0, 1, Buffer.alloc(8))], PROTOCOL_ERROR],
    ["PUSH_PROMISE from a client", () => [open(1), rawFrame(5, F.END_HEADERS, 1, Buffer.alloc(4))], PROTOCOL_ERROR],
    ["DATA on stream 0", () => [rawFrame(T.DATA, 0, 0, Buffer.alloc(4))], PROTOCOL_ERROR],
    // Even ids are the server's; it reserves none (no PUSH_PROMISE), so each stays idle, below the last id the
    // client opened too: "Receiving any frame other than HEADERS or PRIORITY on a stream in this state MUST be
    // treated as a connection error (Section 5.4.1) of type PROTOCOL_ERROR" (RFC 9113 5.1, idle).
    [
      "DATA on an even stream id below one opened",
      () => [open(3), rawFrame(T.DATA, 0, 2, grpcMessage("x"))],
      PROTOCOL_ERROR,
    ],
    [
      "RST_STREAM on an even stream id below one opened",
      () => [open(3), rawFrame(T.RST_STREAM, 0, 2, u32(8))],
      PROTOCOL_ERROR,
    ],
    [
      "WINDOW_UPDATE on an even stream id below one opened",
      () => [open(3), rawFrame(T.WINDOW_UPDATE, 0, 2, u32(10))],
      PROTOCOL_ERROR,
    ],
  ];
  it.each(cases)("%s", async (_, frames, code) => {
    const client = await raw();
    client.write(...frames());
    expect(await goawayCode(client)).toBe(code);
    await client.waitClosed();
    await anotherConnectionServed();
  });
});

describe("HPACK errors (RFC 7541): GOAWAY COMPRESSION_ERROR", () => {
  const COMPRESSION_ERROR = 0x9;
  const block = (...bytes: number[]): Buffer => Buffer.concat([requestBlock(UNARY_PATH), Buffer.from(bytes)]);
  const cases: Array<[string, Buffer]> = [
    ["an indexed field of index 0", block(0x80)],
    ["an index past the dynamic table", block(0xbe)],
    [
      "a table size update above SETTINGS_HEADER_TABLE_SIZE",
      Buffer.concat([Buffer.from([0x3f, 0xe2, 0x1f]), requestBlock(UNARY_PATH)]),
    ],
    ["a table size update after a field", block(0x20)],
    ["an integer that overflows", block(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)],
    ["a string longer than the block", block(0x00, 0x7f, 0x10)],
    ["a Huffman string with EOS", block(0x00, 0x81, 0xff, 0x81, 0x00)],
  ];
  it.each(cases)("%s", async (_, headerBlock) => {
    const client = await raw();
    client.write(rawFrame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, headerBlock));
    expect(await goawayCode(client)).toBe(COMPRESSION_ERROR);
    await client.waitClosed();
    await anotherConnectionServed();
  });
});

describe("stream errors: RST_STREAM with the RFC's code, the connection served on", () => {
  async function servedAfter(client: RawClient, stream: number): Promise<void> {
    client.write(open(stream, UNARY_PATH), rawFrame(T.DATA, F.END_STREAM, stream, grpcMessage("still")));
    expect((await client.response(stream)).data.subarray(5).toString()).toBe("still");
  }
  const cases: Array<[string, () => Buffer[], number]> = [
    ["WINDOW_UPDATE of 0 on a stream", () => [open(1), rawFrame(T.WINDOW_UPDATE, 0, 1, u32(0))], PROTOCOL_ERROR],
    [
      "a stream window past 2^31-1",
      () => [open(1), rawFrame(T.WINDOW_UPDATE, 0, 1, u32(0x7fffffff))],
      FLOW_CONTROL_ERROR,
    ],
    ["PRIORITY of 4 bytes", () => [open(1), rawFrame(T.PRIORITY, 0, 1, Buffer.alloc(4))], FRAME_SIZE_ERROR],
  ];
  it.each(cases)("%s", async (_, frames, code) => {
    const client = await raw();
    client.write(...frames());
    expect(await resetCode(client, 1)).toBe(code);
    await servedAfter(client, 3);
    await anotherConnectionServed();
  });

  it("DATA after the client's RST_STREAM: RST_STREAM STREAM_CLOSED, once", async () => {
    const client = await raw();
    client.write(open(1), rawFrame(T.RST_STREAM, 0, 1, u32(8)), rawFrame(T.DATA, 0, 1, grpcMessage("late")));
    expect(await resetCode(client, 1)).toBe(STREAM_CLOSED);
    client.write(rawFrame(T.DATA, 0, 1, grpcMessage("later")));
    await servedAfter(client, 3);
    expect(client.frames.filter((f) => f.type === T.RST_STREAM).length).toBe(1);
    expect(client.frames.some((f) => f.type === T.GOAWAY)).toBe(false);
  });

  // RFC 9113 5.1, closed: "An endpoint that receives any frame other than PRIORITY after receiving a RST_STREAM
  // MUST treat that as a stream error (Section 5.4.2) of type STREAM_CLOSED."
  it.each([
    ["a request", F.END_STREAM, () => requestBlock(UNARY_PATH)],
    ["headers without END_STREAM", 0, () => requestBlock(UNARY_PATH)],
    ["trailers", F.END_STREAM, () => Buffer.from([0x00, 0x03, 0x78, 0x2d, 0x74, 0x01, 0x31])], // x-t: 1
  ])("HEADERS (%s) after the client's RST_STREAM: RST_STREAM STREAM_CLOSED", async (_, flags, block) => {
    const client = await raw();
    client.write(open(1), rawFrame(T.RST_STREAM, 0, 1, u32(8)));
    client.write(rawFrame(T.HEADERS, F.END_HEADERS | flags, 1, block()));
    expect(await resetCode(client, 1)).toBe(STREAM_CLOSED);
    await servedAfter(client, 3);
    expect(client.frames.some((f) => f.type === T.GOAWAY)).toBe(false);
  });

  // RFC 9113 5.1, closed: "an endpoint that receives any frames after receiving a frame with the END_STREAM flag
  // set MUST treat that as a connection error (Section 5.4.1) of type STREAM_CLOSED"; an id the client skipped
  // was never opened, and stays an unexpected stream identifier (5.1.1, PROTOCOL_ERROR).
  it.each([
    ["a request", F.END_STREAM, () => requestBlock(UNARY_PATH)],
    ["trailers", F.END_STREAM, () => Buffer.from([0x00, 0x03, 0x78, 0x2d, 0x74, 0x01, 0x31])],
  ])("HEADERS (%s) on a stream closed cleanly: GOAWAY STREAM_CLOSED", async (_, flags, block) => {
    const client = await raw();
    client.write(open(5, UNARY_PATH), rawFrame(T.DATA, F.END_STREAM, 5, grpcMessage("done")));
    await client.response(5);
    client.write(rawFrame(T.HEADERS, F.END_HEADERS | flags, 5, block()));
    expect(await goawayCode(client)).toBe(STREAM_CLOSED);
    await client.waitClosed();
    await anotherConnectionServed();
  });

  it("HEADERS on an id skipped below one opened: GOAWAY PROTOCOL_ERROR", async () => {
    const client = await raw();
    client.write(open(5, UNARY_PATH), rawFrame(T.DATA, F.END_STREAM, 5, grpcMessage("done")));
    await client.response(5);
    client.write(rawFrame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 3, requestBlock(UNARY_PATH)));
    expect(await goawayCode(client)).toBe(PROTOCOL_ERROR);
  });

  it("DATA on a stream closed cleanly (both sides ended): RST_STREAM STREAM_CLOSED", async () => {
    const client = await raw();
    client.write(open(1, UNARY_PATH), rawFrame(T.DATA, F.END_STREAM, 1, grpcMessage("done")));
    await client.response(1);
    client.write(rawFrame(T.DATA, 0, 1, grpcMessage("late")));
    expect(await resetCode(client, 1)).toBe(STREAM_CLOSED);
    await servedAfter(client, 3);
  });

  it("DATA and trailers still in flight for a stream the server already ended are dropped", async () => {
    const client = await raw();
    const tooLong = Buffer.alloc(5);
    tooLong.writeUInt32BE(100 * 1024 * 1024, 1); // answered RESOURCE_EXHAUSTED at once, the stream ended
    client.write(open(1, UNARY_PATH), rawFrame(T.DATA, 0, 1, tooLong));
    expect((await client.response(1)).blocks.at(-1)?.["grpc-status"]).toBe("8");
    client.write(rawFrame(T.DATA, 0, 1, Buffer.alloc(100))); // still in flight: ignored
    client.write(rawFrame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, requestBlock(UNARY_PATH).subarray(0, 0)));
    await servedAfter(client, 3);
    expect(client.frames.some((f) => f.type === T.GOAWAY)).toBe(false);
    // Only the RST_STREAM NO_ERROR that asks the client to stop sending (RFC 9113 8.1), no STREAM_CLOSED.
    const resets = client.frames.filter((f) => f.type === T.RST_STREAM).map((f) => f.payload.readUInt32BE(0));
    expect(resets).toEqual([NO_ERROR]);
  });

  it("SETTINGS_INITIAL_WINDOW_SIZE changes apply to open streams (down to 0 and back up)", async () => {
    const client = await raw({ settings: [[4, 0]] });
    await client.waitFor((f) => f.type === T.SETTINGS && (f.flags & F.ACK) !== 0);
    client.write(open(1, UNARY_PATH), rawFrame(T.DATA, F.END_STREAM, 1, grpcMessage("held")));
    await client.waitFor((f) => f.type === T.HEADERS && f.stream === 1);
    expect(client.frames.some((f) => f.type === T.DATA && f.stream === 1)).toBe(false);
    client.write(rawFrame(T.SETTINGS, 0, 0, settingsPayload([[4, 65535]])));
    expect((await client.response(1)).data.subarray(5).toString()).toBe("held");
  });
});

describe("a GOAWAY from the client", () => {
  it("lets the streams in flight finish, then the connection closes; others are served", async () => {
    const started = await startEchoServer();
    cleanups.push(() => started.server.forceShutdown());
    const client = await raw({}, started.port);
    client.write(open(1, UNARY_PATH), rawFrame(T.DATA, F.END_STREAM, 1, grpcMessage("hold")));
    while (started.state.entered < 1) await new Promise((resolve) => setTimeout(resolve, 10));
    const goaway = Buffer.alloc(8);
    goaway.writeUInt32BE(1, 0);
    client.write(rawFrame(T.GOAWAY, 0, 0, goaway));
    expect(await goawayCode(client)).toBe(NO_ERROR);
    started.state.release();
    expect((await client.response(1)).data.subarray(5).toString()).toBe("released");
    await client.waitClosed();
    await anotherConnectionServed(started.port);
  });
});

describe("slow peers", () => {
  it("a preface sent in part and never finished: closed at the preface timeout", async () => {
    const started = await startEchoServer({ limits: { prefaceTimeoutMs: 200 } });
    cleanups.push(() => started.server.forceShutdown());
    const socket = connectNet({ host: "127.0.0.1", port: started.port });
    socket.on("data", () => undefined);
    socket.on("error", () => undefined);
    cleanups.push(() => socket.destroy());
    socket.write(PREFACE.subarray(0, 10));
    await new Promise((resolve) => socket.once("close", resolve));
    expect(started.server.transportStats().limitHits.prefaceTimeout).toBe(1);
    await anotherConnectionServed(started.port);
  });

  it("a request sent byte by byte is served", async () => {
    const client = await raw();
    await client.waitFor((f) => f.type === T.SETTINGS && (f.flags & F.ACK) === 0); // acknowledged: nothing interleaves
    const bytes = Buffer.concat([open(1, UNARY_PATH), rawFrame(T.DATA, F.END_STREAM, 1, grpcMessage("slow"))]);
    for (const byte of bytes) {
      client.write(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect((await client.response(1)).data.subarray(5).toString()).toBe("slow");
  });

  it("a header block never finished: the connection, with no stream open, ends at the idle timeout", async () => {
    const started = await startEchoServer({ limits: { idleTimeoutMs: 200 } });
    cleanups.push(() => started.server.forceShutdown());
    const client = await raw({}, started.port);
    await client.waitFor((f) => f.type === T.SETTINGS && (f.flags & F.ACK) === 0); // acknowledged: nothing interleaves
    client.write(rawFrame(T.HEADERS, 0, 1, requestBlock(UNARY_PATH).subarray(0, 10)));
    expect(await goawayCode(client)).toBe(NO_ERROR);
    await client.waitClosed();
    await anotherConnectionServed(started.port);
  });

  it("a stream opened and never ended, with a grpc-timeout: DEADLINE_EXCEEDED", async () => {
    const client = await raw();
    client.write(
      rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock(UNARY_PATH, { "grpc-timeout": "100m" })),
      rawFrame(T.DATA, 0, 1, grpcMessage("never ends")),
    );
    expect((await client.response(1)).blocks.at(-1)?.["grpc-status"]).toBe("4");
  });
});

describe("gRPC message errors: the call ends with a status, the connection served on", () => {
  function prefix(length: number, flag = 0): Buffer {
    const out = Buffer.alloc(5);
    out[0] = flag;
    out.writeUInt32BE(length, 1);
    return out;
  }
  const cases: Array<[string, Buffer, Record<string, string>, string]> = [
    ["a length prefix larger than the body", Buffer.concat([prefix(100), Buffer.from("short")]), {}, "13"],
    ["trailing bytes after the message", Buffer.concat([grpcMessage("one"), Buffer.from([0, 0])]), {}, "13"],
    ["two messages in a unary request", Buffer.concat([grpcMessage("one"), grpcMessage("two")]), {}, "12"],
    ["no message at all", Buffer.alloc(0), {}, "12"],
    ["the compressed flag without grpc-encoding", Buffer.concat([prefix(3, 1), Buffer.from("abc")]), {}, "13"],
    ["a malformed grpc-timeout", grpcMessage("x"), { "grpc-timeout": "soon" }, "13"],
    ["a grpc-timeout of nine digits", grpcMessage("x"), { "grpc-timeout": "123456789S" }, "13"],
    // PROTOCOL-HTTP2: Compressed-Flag → 0 / 1; anything else is not a message (gRPC's C core: INTERNAL).
    ["a message flags byte of 2", Buffer.concat([prefix(3, 2), Buffer.from("abc")]), {}, "13"],
  ];
  const paths = [UNARY_PATH, STREAM_PATH];
  it.each(cases.flatMap(([name, ...rest]) => paths.map((path) => [`${name}, on ${path}`, ...rest, path] as const)))(
    "%s",
    async (_, body, extra, code, path) => {
      const client = await raw();
      client.write(
        rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock(path, extra)),
        rawFrame(T.DATA, F.END_STREAM, 1, body),
      );
      expect((await client.response(1)).blocks.at(-1)?.["grpc-status"]).toBe(code);
      client.write(open(3, UNARY_PATH), rawFrame(T.DATA, F.END_STREAM, 3, grpcMessage("still")));
      expect((await client.response(3)).data.subarray(5).toString()).toBe("still");
      await anotherConnectionServed();
    },
  );
});

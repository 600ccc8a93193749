// Client-streaming methods served by the native transport itself (a
// `createNativeRoute` of a client-streaming method): many messages, half-close,
// the client's cancel and RST_STREAM mid-stream, the deadline, a message over
// the size limit refused at its prefix, a client that sends faster than the
// handler reads (the window is given back only as the handler reads), a
// malformed message, the call observer and the reset budget. Real sockets;
// raw frames where the test needs byte control.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { PassThrough } from "node:stream";
import { gzipSync } from "node:zlib";
import {
  Client,
  credentials,
  Metadata,
  status,
  type handleClientStreamingCall,
  type ServerReadableStream,
  type ServiceError,
} from "@grpc/grpc-js";
import {
  batchReaderOf,
  createInsecureCredentials,
  createNativeRoute,
  createOffloadServer,
  type CallObserver,
  type ObservedCall,
  type OffloadServer,
} from "../src";
import { collectMethod, frame, identity, rawCall, until } from "./call-support";
import { F, RawClient, rawFrame, requestBlock, T } from "./native-transport-support";

// Sum answers "count:bytes" at the half-close, with a trailer "x-count".
const SUM = collectMethod("Sum");
// Hold keeps its call (not reading) in `held` and never answers by itself.
const HOLD = collectMethod("Hold");
// Strict's decoder throws on a message that starts with "bad".
const STRICT = collectMethod("Strict", (b) => {
  if (b.subarray(0, 3).toString("latin1") === "bad") throw new Error("bad message");
  return b;
});
// Four framed messages of which the third is one STRICT and BATCHED refuse.
const okOkBadOk = (): Buffer => Buffer.concat(["ok1", "ok2", "bad", "ok3"].map((text) => frame(Buffer.from(text))));
// Batched reads the requests with `readBatches` and answers them as "a,b|c" (batches split by "|").
const BATCHED = collectMethod("Batched", STRICT.requestDeserialize);

const MAX_MESSAGE = 4096;
const WINDOW = 65_535;
const FLOW_CONTROL_ERROR = 0x3;
const ENHANCE_YOUR_CALM = 0xb;
const CANCEL = 0x8;

type Call = ServerReadableStream<Buffer, Buffer>;
const held: Call[] = [];
const cancelled: Call[] = [];
const strictSeen: string[] = [];
const observed: { call: ObservedCall; received: number; sent: number; code?: number }[] = [];

const sum: handleClientStreamingCall<Buffer, Buffer> = (call, callback) => {
  let count = 0;
  let bytes = 0;
  call.on("data", (message: Buffer) => {
    count += 1;
    bytes += message.length;
  });
  call.on("end", () => {
    const trailer = new Metadata();
    trailer.set("x-count", String(count));
    callback(null, Buffer.from(`${count}:${bytes}`, "latin1"), trailer);
  });
};
const hold: handleClientStreamingCall<Buffer, Buffer> = (call) => {
  held.push(call);
  call.on("cancelled", () => cancelled.push(call));
};
const strict: handleClientStreamingCall<Buffer, Buffer> = (call, callback) => {
  call.on("data", (message: Buffer) => strictSeen.push(message.toString("latin1")));
  call.on("cancelled", () => strictSeen.push("cancelled"));
  call.on("end", () => callback(null, Buffer.from("ok")));
};

const batchedSeen: string[] = [];
const batched: handleClientStreamingCall<Buffer, Buffer> = (call, callback) => {
  const reader = batchReaderOf(call);
  if (reader === undefined) throw new Error("a native call has a batch reader");
  const batches: string[] = [];
  reader.readBatches(
    (requests) => {
      const text = requests.map((m) => m.toString("latin1")).join(",");
      batches.push(text);
      batchedSeen.push(text);
    },
    () => callback(null, Buffer.from(batches.join("|"), "latin1")),
  );
  call.on("cancelled", () => batchedSeen.push("cancelled"));
  // A second reader, or the Readable's 'data' after it, is refused: the requests go one way only.
  expect(() =>
    reader.readBatches(
      () => undefined,
      () => undefined,
    ),
  ).toThrow("already being read");
};

const observer: CallObserver = {
  callStarted(call) {
    const entry: (typeof observed)[number] = { call, received: 0, sent: 0 };
    observed.push(entry);
    return {
      messageReceived: () => (entry.received += 1),
      messageSent: () => (entry.sent += 1),
      ended: (code) => (entry.code = code),
    };
  },
};

function startServer(limits: Parameters<typeof createOffloadServer>[0]["limits"] = {}): OffloadServer {
  return createOffloadServer({
    credentials: createInsecureCredentials(),
    install: (s) =>
      s.addService(
        { Sum: SUM, Hold: HOLD, Strict: STRICT, Batched: BATCHED },
        { Sum: sum, Hold: hold, Strict: strict, Batched: batched },
      ),
    nativeRoutes: [
      createNativeRoute(SUM, sum),
      createNativeRoute(HOLD, hold),
      createNativeRoute(STRICT, strict),
      createNativeRoute(BATCHED, batched),
    ],
    grpcOptions: { "grpc.max_receive_message_length": MAX_MESSAGE },
    limits: { streamWindowBytes: WINDOW, ...limits },
    callObserver: observer,
  });
}

let server: OffloadServer;
let port: number;
let client: Client;

beforeAll(async () => {
  server = startServer();
  expect(server.transport).toBe("native");
  port = await server.listen("127.0.0.1:0");
  client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
});

afterAll(() => {
  client.close();
  server.forceShutdown();
});

function callSum(messages: readonly Buffer[]): Promise<{ answer: string; count: string | undefined }> {
  return new Promise((resolve, reject) => {
    let answer: string | undefined;
    const stream = client.makeClientStreamRequest(
      SUM.path,
      identity,
      identity,
      (error: ServiceError | null, reply?: Buffer) => {
        if (error !== null) reject(error);
        else answer = (reply as Buffer).toString("latin1");
      },
    );
    // grpc-js emits 'status' (with the trailers) after the callback.
    stream.on("status", (s: { metadata: Metadata }) => {
      if (answer !== undefined) resolve({ answer, count: s.metadata.get("x-count")[0] as string | undefined });
    });
    for (const message of messages) stream.write(message);
    stream.end();
  });
}

// A raw client's HEADERS for a new call of `path` on `stream`.
function headers(stream: number, path: string, extra: Record<string, string> = {}): Buffer {
  return rawFrame(T.HEADERS, F.END_HEADERS, stream, requestBlock(path, extra));
}

// Resolves once the server has handled every frame the client sent before (its PING ACK is queued after them).
async function roundTrip(raw: RawClient, tag: number): Promise<void> {
  const payload = Buffer.alloc(8);
  payload.writeUInt32BE(tag, 4);
  raw.write(rawFrame(T.PING, 0, 0, payload));
  await raw.waitFor((f) => f.type === T.PING && (f.flags & F.ACK) !== 0 && f.payload.equals(payload));
}

describe("native client-streaming calls", () => {
  it("serves many messages of many sizes and answers at the half-close, with trailers", async () => {
    const served = server.nativeCalls.served;
    const forwarded = server.nativeCalls.forwarded;
    const messages = Array.from({ length: 2000 }, (_, i) => Buffer.alloc(i % 300, i & 255));
    const bytes = messages.reduce((n, m) => n + m.length, 0);
    expect(await callSum(messages)).toEqual({ answer: `2000:${bytes}`, count: "2000" });
    // No message at all: the half-close alone.
    expect(await callSum([])).toEqual({ answer: "0:0", count: "0" });
    expect(server.nativeCalls.served - served).toBe(2);
    expect(server.nativeCalls.forwarded - forwarded).toBe(0);
  });

  it("reassembles messages split anywhere across DATA frames", async () => {
    const body = Buffer.concat([frame(Buffer.from("abc")), frame(Buffer.alloc(0)), frame(Buffer.alloc(1000, 7))]);
    const chunks = [body.subarray(0, 2), body.subarray(2, 9), body.subarray(9, 500), body.subarray(500)];
    const response = await rawCall(port, SUM.path, chunks, { gapMs: 5 });
    expect(response?.code).toBe(status.OK);
    expect(response?.messages.map((m) => m.toString("latin1"))).toEqual(["3:1003"]);
  });

  it("tells the handler 'cancelled' when the client cancels mid-stream", async () => {
    const before = cancelled.length;
    const outcome = new Promise<number>((resolve) => {
      const stream = client.makeClientStreamRequest(HOLD.path, identity, identity, (error: ServiceError | null) =>
        resolve(error?.code ?? status.OK),
      );
      stream.write(Buffer.from("one"));
      void until(() => held.length > 0 && held[held.length - 1]?.cancelled === false).then(() => stream.cancel());
    });
    expect(await outcome).toBe(status.CANCELLED);
    await until(() => cancelled.length > before);
    const call = cancelled[cancelled.length - 1] as Call;
    expect(call.cancelled).toBe(true);
    expect(call.destroyed).toBe(true);
  });

  it("tells the handler 'cancelled' at RST_STREAM mid-stream, and the observer sees CANCELLED", async () => {
    const raw = await RawClient.connect(port);
    try {
      const before = cancelled.length;
      const seen = observed.length;
      raw.write(headers(1, HOLD.path), rawFrame(T.DATA, 0, 1, frame(Buffer.from("part"))));
      await until(() => observed.length > seen && observed[observed.length - 1]?.received === 1);
      const buf = Buffer.alloc(4);
      buf.writeUInt32BE(CANCEL);
      raw.write(rawFrame(T.RST_STREAM, 0, 1, buf));
      await until(() => cancelled.length > before);
      const entry = observed[observed.length - 1];
      await until(() => entry?.code !== undefined);
      expect(entry).toMatchObject({
        call: { service: "test.Collect", method: "Hold", type: "client_stream" },
        received: 1,
        sent: 0,
        code: status.CANCELLED,
      });
    } finally {
      raw.close();
    }
  });

  it("ends the call at its deadline from HEADERS: DEADLINE_EXCEEDED, and the handler hears 'cancelled'", async () => {
    const before = cancelled.length;
    const response = await rawCall(port, HOLD.path, [frame(Buffer.from("x"))], {
      headers: { "grpc-timeout": "200m" },
    });
    expect(response?.code).toBe(status.DEADLINE_EXCEEDED);
    await until(() => cancelled.length > before);
  });

  it("refuses a message over the limit at its length prefix (RESOURCE_EXHAUSTED), before its body", async () => {
    const limitHits = server.transportStats().limitHits.messageSize ?? 0;
    const raw = await RawClient.connect(port);
    try {
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(MAX_MESSAGE + 1, 1);
      // One good message, then only the prefix of one too large: the answer cannot wait for its body.
      raw.write(headers(1, SUM.path), rawFrame(T.DATA, 0, 1, Buffer.concat([frame(Buffer.from("ok")), prefix])));
      const { blocks } = await raw.response(1);
      const last = blocks[blocks.length - 1];
      expect(last?.["grpc-status"]).toBe(String(status.RESOURCE_EXHAUSTED));
      expect(decodeURIComponent(last?.["grpc-message"] ?? "")).toBe(
        `Received message larger than max (${MAX_MESSAGE + 1} vs. ${MAX_MESSAGE})`,
      );
      expect(server.transportStats().limitHits.messageSize).toBe(limitHits + 1);
    } finally {
      raw.close();
    }
  });

  it("ends the call INTERNAL on a malformed message mid-stream, after the ones before it", async () => {
    strictSeen.length = 0;
    const response = await rawCall(port, STRICT.path, [okOkBadOk()]);
    expect(response?.code).toBe(status.INTERNAL);
    expect(decodeURIComponent(response?.message ?? "")).toBe("Error deserializing request: bad message");
    await until(() => strictSeen.includes("cancelled"));
    // The handler may or may not have read the good messages before it heard 'cancelled'; never one after "bad".
    const messages = strictSeen.filter((m) => m !== "cancelled");
    expect(["ok1", "ok2"].slice(0, messages.length)).toEqual(messages);
  });

  it("ends the call INTERNAL for a compressed message on an identity call and for a body ending inside a message", async () => {
    const compressed = await rawCall(port, SUM.path, [frame(Buffer.from("zz"), true)]);
    expect(compressed?.code).toBe(status.INTERNAL);
    expect(decodeURIComponent(compressed?.message ?? "")).toBe(
      "Received a compressed message on a call with grpc-encoding identity",
    );
    const cut = await rawCall(port, SUM.path, [frame(Buffer.from("whole")).subarray(0, 7)]);
    expect(cut?.code).toBe(status.INTERNAL);
    expect(decodeURIComponent(cut?.message ?? "")).toBe("Request ended inside a message (7 bytes held)");
  });

  it("gives the window back only as the handler reads: a client that outruns it is held to one window", async () => {
    const raw = await RawClient.connect(port);
    try {
      const heldBefore = held.length;
      raw.write(headers(1, HOLD.path));
      await until(() => held.length > heldBefore);
      const call = held[held.length - 1] as Call;
      // 100 messages of 600 bytes (60,500 bytes framed): within the 65,535-byte window, none read.
      const message = frame(Buffer.alloc(600, 1));
      for (let i = 0; i < 100; i += 1) raw.write(rawFrame(T.DATA, 0, 1, message));
      await roundTrip(raw, 1);
      const updates = (): number => raw.frames.filter((f) => f.type === T.WINDOW_UPDATE && f.stream === 1).length;
      expect(updates()).toBe(0);
      expect(call.readableLength).toBe(100);

      // The handler reads 60: the window comes back once over half of it was read (55 messages, 33,275 bytes).
      for (let i = 0; i < 60; i += 1) expect(call.read()).toEqual(Buffer.alloc(600, 1));
      await raw.waitFor((f) => f.type === T.WINDOW_UPDATE && f.stream === 1);
      const update = raw.frames.find((f) => f.type === T.WINDOW_UPDATE && f.stream === 1) as { payload: Buffer };
      expect(update.payload.readUInt32BE(0)).toBe(55 * 605);

      // More than the window allows now (5,035 + 33,275 bytes left): the stream is reset, nothing is buffered past it.
      const big = rawFrame(T.DATA, 0, 1, Buffer.alloc(16_000));
      raw.write(big, big, big);
      const reset = await raw.waitFor((f) => f.type === T.RST_STREAM && f.stream === 1);
      expect(reset?.payload.readUInt32BE(0)).toBe(FLOW_CONTROL_ERROR);
      await until(() => call.cancelled);
    } finally {
      raw.close();
    }
  });

  it("answers a malformed message at once, before the client half-closes, and drops what comes after", async () => {
    const response = await rawCall(port, STRICT.path, [frame(Buffer.from("bad")), frame(Buffer.from("late"))], {
      gapMs: 20,
    });
    expect(response?.code).toBe(status.INTERNAL);
  });

  it("forwards a call with grpc-encoding gzip to grpc-js, which decompresses and serves it", async () => {
    const forwarded = server.nativeCalls.forwarded;
    const response = await rawCall(port, SUM.path, [frame(gzipSync(Buffer.from("hello")), true)], {
      headers: { "grpc-encoding": "gzip" },
    });
    expect(response?.code).toBe(status.OK);
    expect(response?.messages.map((m) => m.toString("latin1"))).toEqual(["1:5"]);
    expect(server.nativeCalls.forwarded - forwarded).toBe(1);
  });

  it("counts each client-streaming call in the observer as client_stream with its messages and status", async () => {
    const seen = observed.length;
    await callSum([Buffer.from("a"), Buffer.from("b"), Buffer.from("c")]);
    await until(() => observed.slice(seen).some((o) => o.code !== undefined));
    expect(observed.slice(seen)).toEqual([
      { call: { service: "test.Collect", method: "Sum", type: "client_stream" }, received: 3, sent: 1, code: 0 },
    ]);
  });
});

describe("native client-streaming calls read in batches (readBatches)", () => {
  it("hands over the DATA frames of one read as one batch: one message per frame, as gRPC clients send them", async () => {
    const raw = await RawClient.connect(port);
    try {
      const data = ["a", "b", "c"].map((m) => rawFrame(T.DATA, 0, 1, frame(Buffer.from(m))));
      // One write: HEADERS, three DATA frames and the half-close reach the server in one read.
      raw.write(headers(1, BATCHED.path), ...data, rawFrame(T.DATA, F.END_STREAM, 1, Buffer.alloc(0)));
      const { data: body } = await raw.response(1);
      expect(body.subarray(5).toString("latin1")).toBe("a,b,c");
    } finally {
      raw.close();
    }
  });

  it("hands over the requests in order, one batch per read, and ends at the half-close", async () => {
    // Three messages in one DATA frame, then one split across two frames, then one more whole.
    const split = frame(Buffer.from("four"));
    const chunks = [
      Buffer.concat([frame(Buffer.from("one")), frame(Buffer.from("two")), frame(Buffer.alloc(0))]),
      split.subarray(0, 6),
      Buffer.concat([split.subarray(6), frame(Buffer.from("five"))]),
    ];
    const response = await rawCall(port, BATCHED.path, chunks, { gapMs: 20 });
    expect(response?.code).toBe(status.OK);
    expect(response?.messages.map((m) => m.toString("latin1"))).toEqual(["one,two,|four,five"]);
  });

  it("a malformed message ends the call INTERNAL after handing over the requests before it; onEnd never runs", async () => {
    batchedSeen.length = 0;
    const response = await rawCall(port, BATCHED.path, [okOkBadOk()]);
    expect(response?.code).toBe(status.INTERNAL);
    expect(decodeURIComponent(response?.message ?? "")).toBe("Error deserializing request: bad message");
    await until(() => batchedSeen.includes("cancelled"));
    expect(batchedSeen).toEqual(["ok1,ok2", "cancelled"]);
  });

  it("gives the window back as each batch is handed over: many windows' worth of requests go through", async () => {
    const messages = Array.from({ length: 400 }, (_, i) => Buffer.alloc(600, 65 + (i % 26)));
    const reply = await new Promise<string>((resolve, reject) => {
      const stream = client.makeClientStreamRequest(
        BATCHED.path,
        identity,
        identity,
        (error: ServiceError | null, answer?: Buffer) => {
          if (error !== null) reject(error);
          else resolve((answer as Buffer).toString("latin1"));
        },
      );
      for (const message of messages) stream.write(message);
      stream.end();
    });
    expect(reply.split(/[|,]/)).toEqual(messages.map((m) => m.toString("latin1")));
  });

  it("finds no batch reader on a call that is not the native transport's", () => {
    const readable = new PassThrough({ objectMode: true }) as unknown as ServerReadableStream<Buffer, Buffer>;
    expect(batchReaderOf(readable)).toBeUndefined();
  });
});

describe("native client-streaming calls and the reset budget", () => {
  it("a client that resets client-streaming calls mid-stream past the budget is sent GOAWAY ENHANCE_YOUR_CALM", async () => {
    const small = startServer({ maxResetsPerWindow: 5, rateWindowMs: 60_000 });
    const smallPort = await small.listen("127.0.0.1:0");
    const raw = await RawClient.connect(smallPort);
    try {
      const code = Buffer.alloc(4);
      code.writeUInt32BE(CANCEL);
      for (let id = 1; id <= 15; id += 2) {
        raw.write(
          headers(id, SUM.path),
          rawFrame(T.DATA, 0, id, frame(Buffer.from("m"))),
          rawFrame(T.RST_STREAM, 0, id, code),
        );
      }
      const goaway = await raw.waitFor((f) => f.type === T.GOAWAY);
      expect(goaway?.payload.readUInt32BE(4)).toBe(ENHANCE_YOUR_CALM);
      expect(small.transportStats().limitHits.resets).toBe(1);
    } finally {
      raw.close();
      small.forceShutdown();
    }
  });
});

// Calls forwarded by the native transport to grpc-js, many of them in a row
// on a few concurrent streams: client-streaming calls (as addSession is), and
// server-streaming calls that clients cancel. grpc-js's HTTP/2 server
// (nghttp2) allows its peer, our proxy, 1,000 stream resets plus 33 a second,
// then sends GOAWAY INTERNAL_ERROR, and every call in flight was reset with
// INTERNAL_ERROR. The proxy used to reset every forwarded stream upstream
// (RST_STREAM CANCEL) even when its response was complete, and kept one
// connection whatever the clients cancelled.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  Client,
  credentials,
  type handleBidiStreamingCall,
  type handleServerStreamingCall,
  type MethodDefinition,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { createInsecureCredentials, createNativeRoute, createOffloadServer, type OffloadServer } from "../src";
import { countingSum, frame } from "./call-support";
import { F, RawClient, rawFrame, requestBlock, T, unaryMethod } from "./native-transport-support";

const SUM_PATH = "/test.Collect/Sum";
const identity = (b: Buffer): Buffer => b;
const sumMethod: MethodDefinition<Buffer, Buffer> = {
  path: SUM_PATH,
  requestStream: true,
  responseStream: false,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
};

const HOLD_PATH = "/test.Collect/Hold";
const holdMethod: MethodDefinition<Buffer, Buffer> = {
  ...sumMethod,
  path: HOLD_PATH,
  requestStream: false,
  responseStream: true,
};

const ECHO_PATH = "/test.Collect/Echo";
const echoMethod: MethodDefinition<Buffer, Buffer> = { ...sumMethod, path: ECHO_PATH, responseStream: true };

// Far above the 1,000-reset burst even on a slow machine (33 more a second).
const CALLS = 3000;
const CONCURRENCY = 8;
const MESSAGES = 16;

let server: OffloadServer;
let client: Client;
let port: number;

beforeAll(async () => {
  server = createOffloadServer({
    credentials: createInsecureCredentials(),
    install: (s) =>
      s.addService(
        { sum: sumMethod, hold: holdMethod, echo: echoMethod },
        {
          // Answers the number of messages and their total length.
          sum: countingSum,
          // Writes one message and waits for the client to cancel.
          hold: ((call) => {
            call.write(Buffer.from("first"));
          }) satisfies handleServerStreamingCall<Buffer, Buffer>,
          // Writes each message back as it comes.
          echo: ((call) => {
            call.on("data", (message: Buffer) => call.write(message));
            call.on("end", () => call.end());
          }) satisfies handleBidiStreamingCall<Buffer, Buffer>,
        },
      ),
    // The clients' own cancels are not what is tested: the native transport lets them all through.
    limits: { maxResetsPerWindow: 1_000_000 },
    nativeRoutes: [createNativeRoute(unaryMethod, (call, callback) => callback(null, call.request))],
  });
  expect(server.transport).toBe("native");
  port = await server.listen("127.0.0.1:0");
  client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
});

afterAll(() => {
  client.close();
  server.forceShutdown();
});

function sum(call: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const stream = client.makeClientStreamRequest(
      SUM_PATH,
      identity,
      identity,
      (error: ServiceError | null, answer?: Buffer) => {
        if (error !== null) reject(error);
        else resolve((answer as Buffer).toString("latin1"));
      },
    );
    for (let m = 0; m < MESSAGES; m++) stream.write(Buffer.alloc(100, call & 255));
    stream.end();
  });
}

// A server-streaming call cancelled by the client once its first message came; resolves to the status.
function hold(): Promise<status> {
  return new Promise((resolve) => {
    const stream = client.makeServerStreamRequest(HOLD_PATH, identity, identity, Buffer.alloc(0));
    stream.on("data", () => stream.cancel());
    stream.on("error", (error: ServiceError) => resolve(error.code));
    stream.on("end", () => resolve(status.OK));
  });
}

describe("calls forwarded to grpc-js", () => {
  it(`${CALLS} calls of ${MESSAGES} messages, ${CONCURRENCY} at a time, are all answered`, async () => {
    const answers: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < CALLS) {
        const call = next++;
        answers.push(await sum(call));
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(answers).toHaveLength(CALLS);
    expect(new Set(answers)).toEqual(new Set([`${MESSAGES}:${MESSAGES * 100}`]));
    expect(server.nativeCalls.forwarded).toBe(CALLS);
  }, 120_000);

  it("calls cancelled by clients, 2,000 of them amid 1,000 others, 8 at a time, do not fail the others", async () => {
    const before = server.nativeCalls.forwarded;
    const outcomes: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < 3000) {
        const call = next++;
        if (call % 3 === 2) outcomes.push(await sum(call));
        else outcomes.push(`hold ${status[await hold()]}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const counts = new Map<string, number>();
    for (const outcome of outcomes) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({ "hold CANCELLED": 2000, [`${MESSAGES}:${MESSAGES * 100}`]: 1000 });
    expect(server.nativeCalls.forwarded - before).toBe(3000);
  }, 120_000);

  // The transport gathers a forwarded request's small DATA frames into larger writes, but never holds back a
  // complete message: here the first message and the start of the second come in one frame, and the client
  // sends the rest of the second only once the first is answered.
  it("passes on a complete message at once when the start of the next comes with it (bidirectional)", async () => {
    const raw = await RawClient.connect(port);
    try {
      const first = frame(Buffer.from("first"));
      const second = frame(Buffer.from("second"));
      raw.write(
        rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock(ECHO_PATH)),
        rawFrame(T.DATA, 0, 1, Buffer.concat([first, second.subarray(0, 3)])),
      );
      const echoes = (text: string): boolean =>
        raw.frames.some((f) => f.type === T.DATA && f.stream === 1 && f.payload.includes(Buffer.from(text)));
      // Held back, the first message would wait for bytes the client sends only after its answer: give up after 10 s.
      const giveUpAt = Date.now() + 10_000;
      while (!echoes("first") && !raw.closed && Date.now() < giveUpAt) await new Promise((r) => setTimeout(r, 5));
      expect(echoes("first")).toBe(true);
      expect(echoes("second")).toBe(false);
      raw.write(rawFrame(T.DATA, F.END_STREAM, 1, second.subarray(3)));
      const response = await raw.response(1);
      expect(response.data.includes(Buffer.from("second"))).toBe(true);
    } finally {
      raw.close();
    }
  });
});

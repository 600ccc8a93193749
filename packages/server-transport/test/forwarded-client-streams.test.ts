// Client-streaming calls forwarded by the native transport to grpc-js (as
// addSession is), many of them in a row on a few concurrent streams. The
// proxy used to reset every forwarded stream upstream (RST_STREAM CANCEL)
// once its response was complete: grpc-js's HTTP/2 server (nghttp2) allows a
// peer 1,000 stream resets plus 33 a second, then sends GOAWAY
// INTERNAL_ERROR, and every call in flight was reset with INTERNAL_ERROR.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  Client,
  credentials,
  type handleClientStreamingCall,
  type MethodDefinition,
  type ServiceError,
} from "@grpc/grpc-js";
import { createInsecureCredentials, createNativeRoute, createOffloadServer, type OffloadServer } from "../src";
import { unaryMethod } from "./native-transport-support";

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

// Far above the 1,000-reset burst even on a slow machine (33 more a second).
const CALLS = 3000;
const CONCURRENCY = 8;
const MESSAGES = 16;

let server: OffloadServer;
let client: Client;

beforeAll(async () => {
  server = createOffloadServer({
    credentials: createInsecureCredentials(),
    install: (s) =>
      s.addService(
        { sum: sumMethod },
        {
          // Answers the number of messages and their total length.
          sum: ((call, callback) => {
            let count = 0;
            let bytes = 0;
            call.on("data", (message: Buffer) => {
              count += 1;
              bytes += message.length;
            });
            call.on("end", () => callback(null, Buffer.from(`${count}:${bytes}`, "latin1")));
          }) satisfies handleClientStreamingCall<Buffer, Buffer>,
        },
      ),
    nativeRoutes: [createNativeRoute(unaryMethod, (call, callback) => callback(null, call.request))],
  });
  expect(server.transport).toBe("native");
  const port = await server.listen("127.0.0.1:0");
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

describe("client-streaming calls forwarded to grpc-js", () => {
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
});

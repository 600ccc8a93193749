// Answers leave while the rest of a read is still being handled: of many
// unary calls that arrive in one read, the first answers reach the client
// before the server has finished the later calls. The client is a worker
// thread (an event loop of its own), so it can read while the server's
// thread is held inside a handler.
import { afterEach, expect, it } from "@jest/globals";
import type { handleUnaryCall } from "@grpc/grpc-js";
import { Worker } from "node:worker_threads";
import { createInsecureCredentials, createNativeRoute, createOffloadServer, type OffloadServer } from "../src";
import {
  F,
  grpcMessage,
  PREFACE,
  rawFrame,
  requestBlock,
  T,
  UNARY_PATH,
  unaryMethod,
} from "./native-transport-support";

// How long the held handler waits for the client at most; the test fails if it has to wait that long.
const HOLD_LIMIT_MS = 15_000;

// The client: writes all its bytes at once, counts the answers' trailers (HEADERS with END_STREAM), and once
// `wanted` have come, wakes the server's held handler through the shared flag.
const CLIENT = `
const { workerData, parentPort } = require("node:worker_threads");
const { connect } = require("node:net");
const flag = new Int32Array(workerData.flag);
const socket = connect(workerData.port, "127.0.0.1", () => socket.write(Buffer.from(workerData.bytes)));
let input = Buffer.alloc(0);
let answers = 0;
socket.on("data", (chunk) => {
  input = Buffer.concat([input, chunk]);
  while (input.length >= 9) {
    const length = input.readUIntBE(0, 3);
    if (input.length < 9 + length) break;
    const type = input[3];
    const flags = input[4];
    input = input.subarray(9 + length);
    if (type === 1 && (flags & 1) !== 0) {
      answers += 1;
      if (answers === workerData.wanted) {
        Atomics.store(flag, 0, 1);
        Atomics.notify(flag, 0);
      }
      if (answers === workerData.total) {
        parentPort.postMessage(answers);
        socket.destroy();
      }
    }
  }
});
socket.on("error", (err) => parentPort.postMessage(String(err)));
`;

let server: OffloadServer | undefined;
afterEach(async () => {
  await server?.forceShutdown();
  server = undefined;
});

it("sends the first answers of a read before it has handled the rest of it", async () => {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  let waited: string | undefined;
  // "hold" keeps the server's thread until the client has read four of the answers before it (or HOLD_LIMIT_MS).
  const unary: handleUnaryCall<Buffer, Buffer> = (call, callback) => {
    if (call.request.toString("latin1") === "hold") waited = Atomics.wait(flag, 0, 0, HOLD_LIMIT_MS);
    callback(null, call.request);
  };
  server = createOffloadServer({
    credentials: createInsecureCredentials(),
    install: (s) => s.addService({ unary: unaryMethod }, { unary }),
    nativeRoutes: [createNativeRoute(unaryMethod, unary)],
  });
  const port = await server.listen("127.0.0.1:0");

  // Eight echo calls, then the held one, then three more: one write, so one read on the server.
  const bodies = [...Array.from({ length: 8 }, (_, i) => `echo ${i}`), "hold", "after 1", "after 2", "after 3"];
  const frames = [PREFACE, rawFrame(T.SETTINGS, 0, 0)];
  bodies.forEach((body, i) => {
    const stream = 2 * i + 1;
    frames.push(rawFrame(T.HEADERS, F.END_HEADERS, stream, requestBlock(UNARY_PATH)));
    frames.push(rawFrame(T.DATA, F.END_STREAM, stream, grpcMessage(body)));
  });
  const bytes = Buffer.concat(frames);
  const worker = new Worker(CLIENT, {
    eval: true,
    workerData: { port, bytes, flag: flag.buffer, wanted: 4, total: bodies.length },
  });
  try {
    const result = await new Promise<unknown>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    expect(result).toBe(bodies.length);
    // "ok": woken by the client; "not-equal": the client had its answers before the handler began to wait.
    expect(["ok", "not-equal"]).toContain(waited);
  } finally {
    await worker.terminate();
  }
}, 60_000);

// The CallObserver on both transports: every call is started once, its
// messages counted, and ended once with its status. The same calls give the
// same report on either transport, including the calls the native transport
// forwards to grpc-js (health, a compressed request).
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { gzipSync } from "node:zlib";
import {
  credentials,
  makeGenericClientConstructor,
  status,
  type CallOptions,
  type Client,
  type ClientReadableStream,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type ServiceDefinition,
  type ServiceError,
} from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import {
  createInsecureCredentials,
  createNativeRoute,
  createOffloadServer,
  type CallObserver,
  type ObservedCall,
  type OffloadServer,
  type OffloadTransport,
  type RpcType,
} from "../src";
import { frame, rawCall, until } from "./call-support";
import { bytesMethod } from "./native-transport-support";

const UNARY = bytesMethod("/test.Observed/Unary", false);
const STREAM = bytesMethod("/test.Observed/Stream", true);
const SERVICE: ServiceDefinition = { Unary: UNARY, Stream: STREAM };
const HEALTH_CHECK = "/grpc.health.v1.Health/Check";

// Unary: "fail" answers NOT_FOUND, "hold" never answers, anything else is echoed.
const unary: handleUnaryCall<Buffer, Buffer> = (call, callback) => {
  const text = call.request.toString();
  if (text === "fail") callback({ code: status.NOT_FOUND, details: "no such thing" });
  else if (text !== "hold") callback(null, call.request);
};
// Stream: "hold" writes one message and waits to be cancelled; "N" writes N messages and ends.
const stream: handleServerStreamingCall<Buffer, Buffer> = (call) => {
  const text = call.request.toString();
  if (text === "hold") {
    call.write(Buffer.from("first"));
    return;
  }
  for (let i = 0; i < Number(text); i += 1) call.write(Buffer.from(`m${i}`));
  call.end();
};

// The generic client's methods, as makeGenericClientConstructor makes them for SERVICE.
interface ObservedClient extends Client {
  Unary(request: Buffer, options: CallOptions, callback: (error: ServiceError | null, reply?: Buffer) => void): unknown;
  Stream(request: Buffer): ClientReadableStream<Buffer>;
}

interface MethodCounts {
  type: RpcType;
  started: number;
  received: number;
  sent: number;
  /** Status codes the calls ended with, in order. */
  codes: number[];
}

// Counts what the server reports, per "service/method"; an `ended` after the first, per call, is counted too.
function recordingObserver(): { observer: CallObserver; byMethod: Map<string, MethodCounts>; extraEnds: number } {
  const state = { byMethod: new Map<string, MethodCounts>(), extraEnds: 0 };
  const observer: CallObserver = {
    callStarted(call: ObservedCall) {
      const key = `${call.service}/${call.method}`;
      let counts = state.byMethod.get(key);
      if (counts === undefined) {
        counts = { type: call.type, started: 0, received: 0, sent: 0, codes: [] };
        state.byMethod.set(key, counts);
      }
      const c = counts;
      c.started += 1;
      let ended = false;
      return {
        messageReceived: () => (c.received += 1),
        messageSent: () => (c.sent += 1),
        ended(code) {
          if (ended) state.extraEnds += 1;
          else c.codes.push(code);
          ended = true;
        },
      };
    },
  };
  return {
    observer,
    byMethod: state.byMethod,
    get extraEnds() {
      return state.extraEnds;
    },
  };
}

describe.each(["native", "grpc-js"] as OffloadTransport[])("CallObserver on the %s transport", (transport) => {
  const recorded = recordingObserver();
  let server: OffloadServer;
  let port: number;
  let client: ObservedClient;

  const counts = (key: string): MethodCounts | undefined => recorded.byMethod.get(key);
  const endedCalls = (key: string): number => counts(key)?.codes.length ?? 0;

  beforeAll(async () => {
    server = createOffloadServer({
      transport,
      credentials: createInsecureCredentials(),
      install: (s) => s.addService(SERVICE, { Unary: unary, Stream: stream }),
      addOns: [new HealthImplementation({ "": "SERVING" })],
      nativeRoutes: [createNativeRoute(UNARY, unary), createNativeRoute(STREAM, stream)],
      callObserver: recorded.observer,
      shutdownTimeoutMs: 1000,
    });
    expect(server.transport).toBe(transport);
    port = await server.listen("127.0.0.1:0");
    const Constructor = makeGenericClientConstructor(SERVICE, "Observed");
    client = new Constructor(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as ObservedClient;
  });
  afterAll(() => {
    client.close();
    server.forceShutdown();
  });

  const callUnary = (text: string, deadlineMs?: number): Promise<{ error: ServiceError | null; reply?: Buffer }> =>
    new Promise((resolve) => {
      const options = deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs };
      client.Unary(Buffer.from(text), options, (error, reply) => resolve({ error, reply }));
    });

  it("counts a unary call: started, one message each way, OK", async () => {
    const { error, reply } = await callUnary("hello");
    expect(error).toBeNull();
    expect(reply?.toString()).toBe("hello");
    await until(() => endedCalls("test.Observed/Unary") >= 1);
    expect(counts("test.Observed/Unary")).toEqual({ type: "unary", started: 1, received: 1, sent: 1, codes: [0] });
  });

  it("counts an error status: the handler's code, no message sent", async () => {
    const { error } = await callUnary("fail");
    expect(error?.code).toBe(status.NOT_FOUND);
    await until(() => endedCalls("test.Observed/Unary") >= 2);
    expect(counts("test.Observed/Unary")).toEqual({
      type: "unary",
      started: 2,
      received: 2,
      sent: 1,
      codes: [status.OK, status.NOT_FOUND],
    });
  });

  it("counts a call past its deadline as DEADLINE_EXCEEDED", async () => {
    // grpc-timeout without a client-side deadline: the server alone ends the call (no race with a client reset).
    const held = await rawCall(port, UNARY.path, [frame(Buffer.from("hold"))], { headers: { "grpc-timeout": "200m" } });
    expect(held?.code).toBe(status.DEADLINE_EXCEEDED);
    await until(() => endedCalls("test.Observed/Unary") >= 3);
    expect(counts("test.Observed/Unary")?.codes[2]).toBe(status.DEADLINE_EXCEEDED);
    expect(counts("test.Observed/Unary")?.started).toBe(3);
  });

  it("counts a server stream: every message sent, OK", async () => {
    const call = client.Stream(Buffer.from("3"));
    const messages: string[] = [];
    call.on("data", (m: Buffer) => messages.push(m.toString()));
    await new Promise<void>((resolve, reject) => {
      call.on("status", () => resolve());
      call.on("error", reject);
    });
    expect(messages).toEqual(["m0", "m1", "m2"]);
    await until(() => endedCalls("test.Observed/Stream") >= 1);
    expect(counts("test.Observed/Stream")).toEqual({
      type: "server_stream",
      started: 1,
      received: 1,
      sent: 3,
      codes: [status.OK],
    });
  });

  it("counts a stream the client cancels as CANCELLED", async () => {
    const call = client.Stream(Buffer.from("hold"));
    call.on("error", () => undefined);
    await new Promise<void>((resolve) => call.once("data", () => resolve()));
    call.cancel();
    await until(() => endedCalls("test.Observed/Stream") >= 2);
    expect(counts("test.Observed/Stream")).toEqual({
      type: "server_stream",
      started: 2,
      received: 2,
      sent: 4,
      codes: [status.OK, status.CANCELLED],
    });
  });

  it("counts calls grpc-js serves (health; a compressed request the native transport forwards) once each", async () => {
    const health = await rawCall(port, HEALTH_CHECK, [frame(Buffer.alloc(0))]);
    expect(health?.code).toBe(status.OK);
    const compressed = await rawCall(port, UNARY.path, [frame(gzipSync(Buffer.from("zipped")), true)], {
      headers: { "grpc-encoding": "gzip" },
    });
    expect(compressed?.code).toBe(status.OK);
    expect(compressed?.messages.map((m) => m.toString())).toEqual(["zipped"]);
    await until(() => endedCalls("grpc.health.v1.Health/Check") >= 1 && endedCalls("test.Observed/Unary") >= 4);
    expect(counts("grpc.health.v1.Health/Check")).toEqual({
      type: "unary",
      started: 1,
      received: 1,
      sent: 1,
      codes: [status.OK],
    });
    expect(counts("test.Observed/Unary")?.started).toBe(4);
    expect(counts("test.Observed/Unary")?.codes[3]).toBe(status.OK);
    expect(server.nativeCalls.forwarded).toBe(transport === "native" ? 2 : 0);
  });

  it("ended each call exactly once, and none is left open", () => {
    expect(recorded.extraEnds).toBe(0);
    for (const c of recorded.byMethod.values()) expect(c.codes.length).toBe(c.started);
  });
});

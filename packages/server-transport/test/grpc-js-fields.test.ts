// Request header fields that RFC 9113 8.2.1 forbids, sent by hand (raw
// frames, literal HPACK, nothing validated on the way) to the grpc-js
// transport. What these tests pin down: no such field reaches a handler or
// an interceptor, the answer is a reset or a normal answer without the
// field, and the connection and the server go on serving. Node's nghttp2
// drops fields whose name or value is invalid (and resets uppercase names)
// before grpc-js sees the headers, and grpc-js keeps out of Metadata what
// it does not take as a key or a printable value; neither is reachable from
// grpc-js's public API, so the strict answer (RST_STREAM PROTOCOL_ERROR for
// each of them) is the native transport's. If a Node or grpc-js release
// starts letting one through, the assertions on what handlers saw fail.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ServerInterceptingCall, type Metadata, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import { sessionsV1 } from "@sessionoffload/offload-api";
import { createInsecureCredentials, createOffloadServer, type OffloadServer } from "../src";
import { frame } from "./call-support";
import { F, RawClient, rawFrame, T } from "./native-transport-support";

const GET = sessionsV1.SessionTableService.getSession.path;

// A header block of literal fields without indexing, names and values as given (latin1).
function literalBlock(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  const out: number[] = [];
  const push = (text: string): void => {
    const bytes = Buffer.from(text, "latin1");
    if (bytes.length > 126) throw new RangeError("short strings only");
    out.push(bytes.length, ...bytes);
  };
  for (const [name, value] of fields) {
    out.push(0x00);
    push(name);
    push(value);
  }
  return Buffer.from(out);
}

function requestFields(extra: readonly [string, string]): ReadonlyArray<readonly [string, string]> {
  return [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", GET],
    [":authority", "127.0.0.1"],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
    extra,
  ];
}

const BAD_FIELDS: ReadonlyArray<readonly [string, string, string]> = [
  ["a name with a space", "x y", "1"],
  ["a name with a colon", "x:y", "1"],
  ["a name with NUL", "x\0y", "1"],
  ["a name with CR", "x\ry", "1"],
  ["a name with LF", "x\ny", "1"],
  ["an uppercase name", "X-Upper", "1"],
  ["an empty name", "", "1"],
  ["a value with NUL", "x-v", "a\0b"],
  ["a value with CR", "x-v", "a\rb"],
  ["a value with LF", "x-v", "a\nb"],
  ["a value with a leading space", "x-v", " lead"],
  ["a value with a trailing space", "x-v", "trail "],
  ["a value with a leading tab", "x-v", "\tlead"],
  ["a value with a trailing tab", "x-v", "trail\t"],
];

describe("the grpc-js transport and forbidden request fields", () => {
  const seen: Metadata[] = [];
  const intercepted: Metadata[] = [];
  let server: OffloadServer;
  let port: number;

  beforeAll(async () => {
    const getSession = (call: ServerUnaryCall<sessionsV1.sessionId, unknown>, cb: sendUnaryData<unknown>): void => {
      seen.push(call.metadata);
      cb(null, sessionsV1.sessionResponse.fromPartial({ sessionId: call.request.sessionId }));
    };
    server = createOffloadServer({
      transport: "grpc-js",
      credentials: createInsecureCredentials(),
      install: (s) => s.addService(sessionsV1.SessionTableService, { getSession } as never),
      grpcOptions: {
        interceptors: [
          (_method, call) =>
            new ServerInterceptingCall(call, {
              start: (next) =>
                next({
                  onReceiveMetadata: (metadata, proceed) => {
                    intercepted.push(metadata);
                    proceed(metadata);
                  },
                }),
            }),
        ],
      },
    });
    port = await server.listen("127.0.0.1:0");
  });
  afterAll(() => server.shutdown());

  const body = frame(sessionsV1.sessionId.encode({ sessionId: 7n }).finish());

  it.each(BAD_FIELDS)("%s: never reaches the handler, and the connection keeps serving", async (_name, key, value) => {
    seen.length = 0;
    intercepted.length = 0;
    const client = await RawClient.connect(port);
    try {
      client.write(
        rawFrame(T.HEADERS, F.END_HEADERS, 1, literalBlock(requestFields([key, value]))),
        rawFrame(T.DATA, F.END_STREAM, 1, body),
      );
      const bad = await client.response(1);
      if (bad.reset === undefined) expect(bad.blocks.at(-1)?.["grpc-status"]).toBe("0");
      for (const metadata of [...seen, ...intercepted]) {
        const map = metadata.getMap();
        for (const [k, v] of Object.entries(map)) {
          expect(k).toMatch(/^[0-9a-z_.-]+$/);
          if (typeof v === "string") expect(v).toMatch(/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$|^$/);
        }
        expect(map[key.toLowerCase()]).toBeUndefined();
      }
      // The same connection then serves a proper call.
      client.write(
        rawFrame(T.HEADERS, F.END_HEADERS, 3, literalBlock(requestFields(["x-v", "fine"]))),
        rawFrame(T.DATA, F.END_STREAM, 3, body),
      );
      const good = await client.response(3);
      expect(good.reset).toBeUndefined();
      expect(good.blocks.at(-1)?.["grpc-status"]).toBe("0");
      expect(seen.at(-1)?.get("x-v")).toEqual(["fine"]);
    } finally {
      client.close();
    }
  });
});

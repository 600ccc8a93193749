// RFC 9113 request validation and RFC 7541 4.2 on the native transport,
// over real sockets on 127.0.0.1 with frames and header blocks written by
// hand: every malformed request is reset with the code the RFC names, and
// the connection goes on serving.
import { afterEach, describe, expect, it } from "@jest/globals";
import { connect as connectH2 } from "node:http2";
import {
  F,
  grpcMessage,
  postUnary,
  RawClient,
  rawFrame,
  type RawFrame,
  requestBlock,
  startEchoServer,
  settingsPayload,
  T,
  UNARY_PATH,
} from "./native-transport-support";

const PROTOCOL_ERROR = 0x1;
const STREAM_CLOSED = 0x5;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(): Promise<{ port: number; client: RawClient }> {
  const started = await startEchoServer();
  cleanups.push(() => started.server.forceShutdown());
  const client = await RawClient.connect(started.port);
  cleanups.push(() => client.close());
  return { port: started.port, client };
}

// A header block of literals without indexing, exactly as given (order, case, bytes).
function literalBlock(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [];
  const str = (text: string): Buffer => {
    const bytes = Buffer.from(text, "latin1");
    if (bytes.length >= 127) throw new Error("test strings stay short");
    return Buffer.concat([Buffer.from([bytes.length]), bytes]);
  };
  for (const [name, value] of fields) parts.push(Buffer.from([0]), str(name), str(value));
  return Buffer.concat(parts);
}

const GOOD: ReadonlyArray<readonly [string, string]> = [
  [":method", "POST"],
  [":scheme", "http"],
  [":path", UNARY_PATH],
  [":authority", "127.0.0.1"],
  ["content-type", "application/grpc"],
  ["te", "trailers"],
];

function without(name: string): Array<readonly [string, string]> {
  return GOOD.filter(([n]) => n !== name);
}

function resetCode(client: RawClient, stream: number): Promise<number | undefined> {
  return client.waitFor((f) => f.type === T.RST_STREAM && f.stream === stream).then((f) => f?.payload.readUInt32BE(0));
}

// A valid call on `stream`: answered with its echo.
async function servedAfter(client: RawClient, stream: number): Promise<void> {
  client.write(
    rawFrame(T.HEADERS, F.END_HEADERS, stream, requestBlock(UNARY_PATH)),
    rawFrame(T.DATA, F.END_STREAM, stream, grpcMessage("still")),
  );
  expect((await client.response(stream)).data.subarray(5).toString()).toBe("still");
}

describe("malformed requests (RFC 9113 8.1-8.3): RST_STREAM PROTOCOL_ERROR, the connection served on", () => {
  const cases: Array<[string, ReadonlyArray<readonly [string, string]>]> = [
    ["a pseudo-header after a regular field", [...without(":authority"), [":authority", "x"]]],
    ["a repeated :path", [...GOOD.slice(0, 3), [":path", "/other"], ...GOOD.slice(3)]],
    ["an unknown pseudo-header", [[":foo", "bar"], ...GOOD]],
    ["a response pseudo-header", [[":status", "200"], ...GOOD]],
    ["no :scheme", without(":scheme")],
    ["no :path", without(":path")],
    ["an empty :path", [...without(":path").slice(0, 2), [":path", ""], ...without(":path").slice(2)]],
    ["no :method", without(":method")],
    ["a connection header", [...GOOD, ["connection", "keep-alive"]]],
    ["a transfer-encoding header", [...GOOD, ["transfer-encoding", "chunked"]]],
    ["an upgrade header", [...GOOD, ["upgrade", "h2c"]]],
    ["te other than trailers", [...without("te"), ["te", "gzip"]]],
    ["an upper-case field name", [...GOOD, ["X-Upper", "1"]]],
    ["a field name with a space", [...GOOD, ["x bad", "1"]]],
    ["a field name with a colon", [...GOOD, ["x:bad", "1"]]],
    ["a field name with NUL", [...GOOD, ["x\0bad", "1"]]],
    ["a field name with CR", [...GOOD, ["x\rbad", "1"]]],
    ["a field name with LF", [...GOOD, ["x\nbad", "1"]]],
    ["an empty field name", [...GOOD, ["", "1"]]],
    ["a value with NUL", [...GOOD, ["x-v", "a\0b"]]],
    ["a value with CR", [...GOOD, ["x-v", "a\rb"]]],
    ["a value with LF", [...GOOD, ["x-v", "a\nb"]]],
    ["a value with leading space", [...GOOD, ["x-v", " a"]]],
    ["a value with trailing tab", [...GOOD, ["x-v", "a\t"]]],
    ["a pseudo-header value with trailing space", [...without(":path"), [":path", `${UNARY_PATH} `]]],
    ["a content-length that is not a number", [...GOOD, ["content-length", "ten"]]],
    // RFC 9113 8.3.1: "A server SHOULD treat a request as malformed if it contains a Host header field that
    // identifies an entity that differs from the entity in the ":authority" pseudo-header field."
    ["a host that differs from :authority", [...GOOD, ["host", "elsewhere.example"]]],
  ];
  it.each(cases)("%s", async (_, fields) => {
    const { client } = await setup();
    client.write(rawFrame(T.HEADERS, F.END_HEADERS, 1, literalBlock(fields)));
    client.write(rawFrame(T.DATA, F.END_STREAM, 1, grpcMessage("x")));
    expect(await resetCode(client, 1)).toBe(PROTOCOL_ERROR);
    await servedAfter(client, 3);
  });

  it("a content-length the DATA does not match", async () => {
    const { client } = await setup();
    client.write(rawFrame(T.HEADERS, F.END_HEADERS, 1, literalBlock([...GOOD, ["content-length", "100"]])));
    client.write(rawFrame(T.DATA, F.END_STREAM, 1, grpcMessage("short")));
    expect(await resetCode(client, 1)).toBe(PROTOCOL_ERROR);
    await servedAfter(client, 3);
  });

  it("a host naming the same authority as :authority (case, the scheme's default port) is served", async () => {
    const { client } = await setup();
    const fields = (authority: string, host: string): Array<readonly [string, string]> => [
      ...without(":authority").slice(0, 3),
      [":authority", authority],
      ...without(":authority").slice(3),
      ["host", host],
    ];
    const requests: Array<[string, string]> = [
      ["127.0.0.1", "127.0.0.1"],
      ["Example.COM", "example.com"],
      ["example.com", "example.com:80"],
    ];
    for (const [i, [authority, host]] of requests.entries()) {
      const id = 2 * i + 1;
      client.write(rawFrame(T.HEADERS, F.END_HEADERS, id, literalBlock(fields(authority, host))));
      client.write(rawFrame(T.DATA, F.END_STREAM, id, grpcMessage(`host ${i}`)));
      expect((await client.response(id)).data.subarray(5).toString()).toBe(`host ${i}`);
    }
    expect(client.frames.some((f) => f.type === T.RST_STREAM)).toBe(false);
  });

  it("a content-length that matches is served", async () => {
    const { client } = await setup();
    const body = grpcMessage("exact");
    client.write(rawFrame(T.HEADERS, F.END_HEADERS, 1, literalBlock([...GOOD, ["content-length", `${body.length}`]])));
    client.write(rawFrame(T.DATA, F.END_STREAM, 1, body));
    expect((await client.response(1)).data.subarray(5).toString()).toBe("exact");
  });

  it("pseudo-headers in trailers", async () => {
    const { client } = await setup();
    client.write(rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock(UNARY_PATH)));
    client.write(rawFrame(T.DATA, 0, 1, grpcMessage("x")));
    client.write(rawFrame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, literalBlock([[":path", "/x"]])));
    expect(await resetCode(client, 1)).toBe(PROTOCOL_ERROR);
    await servedAfter(client, 3);
  });

  it("valid trailers end the request", async () => {
    const { client } = await setup();
    client.write(rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock(UNARY_PATH)));
    client.write(rawFrame(T.DATA, 0, 1, grpcMessage("trailed")));
    client.write(rawFrame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, literalBlock([["x-trailer", "1"]])));
    expect((await client.response(1)).data.subarray(5).toString()).toBe("trailed");
  });

  it("a HEADERS frame whose stream depends on itself", async () => {
    const { client } = await setup();
    const priority = Buffer.from([0, 0, 0, 1, 16]); // depends on stream 1, weight 16
    const block = Buffer.concat([priority, requestBlock(UNARY_PATH)]);
    client.write(rawFrame(T.HEADERS, F.END_HEADERS | F.PRIORITY, 1, block));
    expect(await resetCode(client, 1)).toBe(PROTOCOL_ERROR);
    await servedAfter(client, 3);
  });

  it("each request on a connection is judged on its own, whatever the one before it was", async () => {
    // The connection remembers the last request it checked: a malformed request right after a valid one that
    // differs from it in one value, and the other way round, must each get their own answer.
    const { client } = await setup();
    const body = grpcMessage("ok");
    const sequence: Array<[ReadonlyArray<readonly [string, string]>, boolean]> = [
      [[...GOOD, ["x-v", "ab"]], true],
      [[...GOOD, ["x-v", "a\0b"]], false],
      [[...GOOD, ["x-v", "a\0b"]], false],
      [[...GOOD, ["x-v", "ab"]], true],
      [[...GOOD, ["x-v", "ab"]], true],
      [[...GOOD, ["content-length", `${body.length}`]], true],
      [[...GOOD, ["content-length", `${body.length + 1}`]], false],
      [[...GOOD, ["content-length", `${body.length}`]], true],
      [[...without("te"), ["te", "gzip"]], false],
      [GOOD, true],
    ];
    let stream = 1;
    for (const [fields, valid] of sequence) {
      client.write(rawFrame(T.HEADERS, F.END_HEADERS, stream, literalBlock(fields)));
      client.write(rawFrame(T.DATA, F.END_STREAM, stream, body));
      if (valid) expect((await client.response(stream)).data.subarray(5).toString()).toBe("ok");
      else expect(await resetCode(client, stream)).toBe(PROTOCOL_ERROR);
      stream += 2;
    }
  });

  it("a PRIORITY frame on an idle stream that depends on itself", async () => {
    const { client } = await setup();
    client.write(rawFrame(T.PRIORITY, 0, 5, Buffer.from([0, 0, 0, 5, 16])));
    expect(await resetCode(client, 5)).toBe(PROTOCOL_ERROR);
    await servedAfter(client, 7);
  });
});

describe("stream and connection states", () => {
  it("DATA on a half-closed (remote) stream: RST_STREAM STREAM_CLOSED", async () => {
    const { client } = await setup();
    client.write(rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock(UNARY_PATH)));
    client.write(rawFrame(T.DATA, F.END_STREAM, 1, grpcMessage("hold")));
    client.write(rawFrame(T.DATA, 0, 1, grpcMessage("more")));
    expect(await resetCode(client, 1)).toBe(STREAM_CLOSED);
    await servedAfter(client, 3);
  });

  it("a first frame other than SETTINGS: GOAWAY PROTOCOL_ERROR", async () => {
    const started = await startEchoServer();
    cleanups.push(() => started.server.forceShutdown());
    const client = await RawClient.connect(started.port, { preface: false });
    cleanups.push(() => client.close());
    client.write(Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"), rawFrame(T.PING, 0, 0, Buffer.alloc(8)));
    const goaway = await client.waitFor((f) => f.type === T.GOAWAY);
    expect(goaway?.payload.readUInt32BE(4)).toBe(PROTOCOL_ERROR);
  });
});

describe("dynamic table size update (RFC 7541 4.2)", () => {
  it("opens the first header block after SETTINGS_HEADER_TABLE_SIZE 0 with a size update to 0", async () => {
    const started = await startEchoServer();
    cleanups.push(() => started.server.forceShutdown());
    const client = await RawClient.connect(started.port, { settings: [[1, 0]] });
    cleanups.push(() => client.close());
    await client.waitFor((f) => f.type === T.SETTINGS && (f.flags & F.ACK) !== 0);
    client.write(
      rawFrame(T.HEADERS, F.END_HEADERS, 1, requestBlock(UNARY_PATH)),
      rawFrame(T.DATA, F.END_STREAM, 1, grpcMessage("first")),
    );
    const first = await client.waitFor((f) => f.type === T.HEADERS && f.stream === 1);
    expect(first?.payload[0]).toBe(0x20); // 001 00000: table size update to 0
    client.write(
      rawFrame(T.HEADERS, F.END_HEADERS, 3, requestBlock(UNARY_PATH)),
      rawFrame(T.DATA, F.END_STREAM, 3, grpcMessage("second")),
    );
    const second = await client.waitFor((f) => f.type === T.HEADERS && f.stream === 3);
    expect(second?.payload[0]).not.toBe(0x20); // once is enough
  });

  // One unary call on `stream`, answered: the HEADERS payloads of its answer and its decoded header blocks.
  async function call(client: RawClient, stream: number, text: string) {
    client.write(
      rawFrame(T.HEADERS, F.END_HEADERS, stream, requestBlock(UNARY_PATH)),
      rawFrame(T.DATA, F.END_STREAM, stream, grpcMessage(text)),
    );
    const answer = await client.response(stream);
    expect(answer.data.subarray(5).toString()).toBe(text);
    expect(answer.blocks).toHaveLength(2);
    expect(answer.blocks[0]).toMatchObject({ ":status": "200", "content-type": "application/grpc+proto" });
    expect(answer.blocks[1]).toMatchObject({ "grpc-status": "0", "grpc-message": "OK" });
    const headers = client.frames.filter((f) => f.type === T.HEADERS && f.stream === stream).map((f) => f.payload);
    return { header: headers[0] as Buffer, trailer: headers[1] as Buffer };
  }

  async function settings(client: RawClient, tableSize: number): Promise<void> {
    const isAck = (f: RawFrame) => f.type === T.SETTINGS && (f.flags & F.ACK) !== 0;
    const before = new Set(client.frames.filter(isAck));
    client.write(rawFrame(T.SETTINGS, 0, 0, settingsPayload([[1, tableSize]])));
    await client.waitFor((f) => isAck(f) && !before.has(f));
  }

  it("the first answer adds its fields to the client's table, later answers refer to them (RFC 7541 6.1, 6.2.1)", async () => {
    const { client } = await setup();
    const first = await call(client, 1, "one");
    expect(first.header[1]).toBe(0x40); // after :status 200 (0x88): a literal with incremental indexing
    for (const stream of [3, 5]) {
      const later = await call(client, stream, `call ${stream}`);
      expect(later.header).toHaveLength(4); // :status and three indexed fields
      expect(later.trailer).toHaveLength(2); // grpc-status, grpc-message
      expect(later.header.every((b) => (b & 0x80) !== 0)).toBe(true);
    }
  });

  it("after SETTINGS_HEADER_TABLE_SIZE shrinks and grows, answers open with the updates and decode right", async () => {
    // The client's decoder (hpack.js) checks every index against its own table: an answer that referred to an
    // entry the size update evicted would not decode.
    const { client } = await setup();
    await call(client, 1, "inserts");
    await call(client, 3, "indexed");
    await settings(client, 100);
    const shrunk = await call(client, 5, "after 100");
    expect(shrunk.header.subarray(0, 2)).toEqual(Buffer.from([0x3f, 100 - 31])); // size update to 100
    const small = await call(client, 7, "table too small");
    expect(small.header[1]).toBe(0x00); // literals without indexing: 282 bytes of entries do not fit in 100
    await settings(client, 4096);
    const grown = await call(client, 9, "after 4096");
    expect(grown.header[0]).toBe(0x3f); // size update to 4096
    expect((await call(client, 11, "inserts again")).header[1]).toBe(0x40);
    expect((await call(client, 13, "indexed again")).header).toHaveLength(4);
    await settings(client, 0);
    expect((await call(client, 15, "after 0")).header[0]).toBe(0x20); // size update to 0
    expect((await call(client, 17, "no table")).header[1]).toBe(0x00);
  });

  it("serves Node's http2 client with a header table size of 0", async () => {
    const started = await startEchoServer();
    cleanups.push(() => started.server.forceShutdown());
    const session = connectH2(`http://127.0.0.1:${started.port}`, { settings: { headerTableSize: 0 } });
    session.on("error", () => undefined);
    cleanups.push(() => session.destroy());
    for (let i = 0; i < 3; i++) {
      const { data, status } = await postUnary(session, `n${i}`);
      expect(status).toBe("0");
      expect(data.subarray(5).toString()).toBe(`n${i}`);
    }
  });
});

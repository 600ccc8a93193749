import { describe, expect, it } from "@jest/globals";
import { createFrameDecoder, MessageTooLargeError } from "../src/grpc/frame-decoder";
import { encodeGrpcMessage, parseGrpcTimeout } from "../src/grpc";
import { MessageFramingCheck } from "../src/grpc/message-framing-check";
import { frame } from "./call-support";

function decodeAll(chunks: readonly Buffer[], max = -1): Array<[boolean, string]> {
  const decoder = createFrameDecoder(max);
  const out: Array<[boolean, string]> = [];
  for (const chunk of chunks)
    decoder.push(chunk, (compressed, m, start, end) => out.push([compressed, m.toString("hex", start, end)]));
  expect(decoder.pendingBytes).toBe(0);
  return out;
}

describe("frame decoder", () => {
  const a = Buffer.from("0a0b0c", "hex");
  const b = Buffer.alloc(300, 7);
  const stream = Buffer.concat([frame(a), frame(Buffer.alloc(0)), frame(b, true)]);
  const expected: Array<[boolean, string]> = [
    [false, a.toString("hex")],
    [false, ""],
    [true, b.toString("hex")],
  ];

  it("decodes several messages from one chunk", () => {
    expect(decodeAll([stream])).toEqual(expected);
  });

  it("decodes the same messages however the bytes are split in two", () => {
    for (let cut = 1; cut < stream.length; cut += 1) {
      expect(decodeAll([stream.subarray(0, cut), stream.subarray(cut)])).toEqual(expected);
    }
  });

  it("decodes them from one-byte chunks", () => {
    const bytes = [...stream].map((x) => Buffer.of(x));
    expect(decodeAll(bytes)).toEqual(expected);
  });

  it("decodes a message of many KiB from chunks of every size, its buffer grown as the bytes come", () => {
    const big = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) % 251));
    const bytes = Buffer.concat([frame(a), frame(big), frame(a)]);
    for (const size of [1, 999, 1024, 1025, 4096, 65_536]) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
      expect(decodeAll(chunks)).toEqual([
        [false, a.toString("hex")],
        [false, big.toString("hex")],
        [false, a.toString("hex")],
      ]);
    }
  });

  it("holds what came of a message, not the length its prefix announces", () => {
    const decoder = createFrameDecoder(-1);
    const prefix = Buffer.from([0, 0, 0x40, 0, 0]); // 4 MiB announced
    const before = process.memoryUsage().arrayBuffers;
    const decoders = Array.from({ length: 64 }, () => createFrameDecoder(-1));
    for (const d of decoders) d.push(Buffer.concat([prefix, Buffer.from("x")]), () => undefined);
    // 64 x 4 MiB would be 256 MiB taken at the prefix.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
    expect(decoders.every((d) => d.pendingBytes === 6)).toBe(true);
    decoder.push(prefix, () => undefined);
    expect(decoder.pendingBytes).toBe(5);
  });

  it("reports the bytes of an incomplete message", () => {
    const decoder = createFrameDecoder(-1);
    decoder.push(frame(b).subarray(0, 100), () => undefined);
    expect(decoder.pendingBytes).toBe(100);
  });

  it("refuses a message past the limit from its prefix alone", () => {
    const decoder = createFrameDecoder(10);
    const prefix = frame(Buffer.alloc(11)).subarray(0, 5);
    expect(() => decoder.push(prefix, () => undefined)).toThrow(MessageTooLargeError);
    expect(() => createFrameDecoder(10).push(prefix, () => undefined)).toThrow(
      "Received message larger than max (11 vs. 10)",
    );
    expect(decodeAll([frame(Buffer.alloc(10))], 10)).toHaveLength(1);
  });
});

describe("message framing check (forwarded requests)", () => {
  // Two messages whose bodies hold bytes 2 and 1, as a flags byte would be: only prefixes are judged.
  const valid = Buffer.concat([frame(Buffer.from([2, 1, 2])), frame(Buffer.from([1, 2, 1, 2]))]);

  it("passes well-framed messages split at every byte", () => {
    for (let cut = 0; cut <= valid.length; cut++) {
      const check = new MessageFramingCheck(undefined, -1);
      expect(check.push(valid.subarray(0, cut))).toBeUndefined();
      expect(check.push(valid.subarray(cut))).toBeUndefined();
      expect(check.end()).toBeUndefined();
    }
  });

  it("counts the messages completed, an empty one included, as their last byte passes", () => {
    const three = Buffer.concat([valid, frame(Buffer.alloc(0))]);
    const first = frame(Buffer.from([2, 1, 2])).length;
    const check = new MessageFramingCheck(undefined, -1);
    const counts = [...three].map((byte) => {
      check.push(Buffer.of(byte));
      return check.messagesEnded;
    });
    expect(counts.indexOf(1)).toBe(first - 1);
    expect(counts.indexOf(2)).toBe(valid.length - 1);
    expect(counts.at(-1)).toBe(3);
  });

  it("passes a compressed flag when the call declared a grpc-encoding", () => {
    const check = new MessageFramingCheck("gzip", -1);
    expect(check.push(Buffer.from([1, 0, 0, 0, 1, 9]))).toBeUndefined();
    expect(check.end()).toBeUndefined();
  });

  it.each([
    ["a flags byte of 2", undefined, Buffer.from([2, 0, 0, 0, 0]), 13],
    ["a compressed flag without grpc-encoding", undefined, Buffer.from([1, 0, 0, 0, 0]), 13],
    ["a compressed flag with grpc-encoding identity", "identity", Buffer.from([1, 0, 0, 0, 0]), 13],
    ["a length over the limit", undefined, Buffer.from([0, 0, 0, 0, 11]), 8],
  ])("refuses %s", (_, encoding, bytes, code) => {
    const check = new MessageFramingCheck(encoding, 10);
    expect(check.push(Buffer.concat([frame(Buffer.from("ok")), bytes]))?.code).toBe(code);
  });

  it("refuses a request that ends inside a prefix or a body", () => {
    for (let cut = 1; cut < valid.length; cut++) {
      if (cut === 8) continue; // the first message ends there
      const check = new MessageFramingCheck(undefined, -1);
      expect(check.push(valid.subarray(0, cut))).toBeUndefined();
      expect(check.end()?.code).toBe(13);
    }
  });
});

describe("grpc-message percent-encoding", () => {
  it.each([
    ["plain ASCII stays", "sourcePort: port 0 is outside 1..65535", "sourcePort: port 0 is outside 1..65535"],
    ["percent is escaped", "100% done", "100%25 done"],
    ["control characters are escaped", "a\nb\tc", "a%0Ab%09c"],
    ["non-ASCII is escaped as UTF-8", "débit €", "d%C3%A9bit %E2%82%AC"],
    ["empty stays empty", "", ""],
  ])("%s", (_name, input, output) => {
    expect(encodeGrpcMessage(input)).toBe(output);
    expect(decodeURIComponent(output)).toBe(input);
  });
});

describe("grpc-timeout", () => {
  it.each([
    ["1H", 3_600_000],
    ["2M", 120_000],
    ["3S", 3000],
    ["250m", 250],
    ["1500u", 1],
    ["999999n", 0],
    ["99999999m", 99_999_999],
    ["00000001m", 1],
  ])("%s is %d ms", (value, ms) => {
    expect(parseGrpcTimeout(value)).toBe(ms);
  });

  it.each([
    "",
    "10",
    "m",
    "-1S",
    "+1S",
    "1.5S",
    "123456789S",
    "10s",
    " 1S",
    "1S ",
    "1SS",
    "\uff11S",
    "\u0663S",
    "1\0S",
  ])("refuses %j", (value) => {
    expect(parseGrpcTimeout(value)).toBeUndefined();
  });
});

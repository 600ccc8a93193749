// HPACK (RFC 7541) of the native transport: the decoder against the RFC's
// Appendix C examples and malformed blocks, the Huffman decoder, and the
// encoder's blocks read back by our decoder and by hpack.js.
import { describe, expect, it } from "@jest/globals";
import { createRequire } from "node:module";
import { HpackDecoder, HpackError } from "../src/h2/hpack-decoder";
import { AnswerBlocks, encodeHeaderBlock } from "../src/h2/hpack-encoder";
import { decodeHuffman, HuffmanError } from "../src/h2/huffman";

// The part of hpack.js (no type declarations) these tests use.
interface HpackJsHeader {
  readonly name: string;
  readonly value: string;
}
interface HpackJsStream {
  write(data: unknown): void;
  read(): unknown;
  execute(cb?: (err: Error | null) => void): void;
}
interface HpackJs {
  readonly decompressor: { create(options: { table: { size: number } }): HpackJsStream };
  readonly compressor: { create(options: { table: { size: number } }): HpackJsStream };
}
const hpackJs = createRequire(__filename)("hpack.js") as HpackJs;

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ""), "hex");

/** Decodes `blocks` in order with one hpack.js decompressor (its dynamic table carries over). */
function hpackJsDecode(blocks: readonly Buffer[], tableSize = 4096): string[][] {
  const decompressor = hpackJs.decompressor.create({ table: { size: tableSize } });
  return blocks.map((block) => {
    decompressor.write(block);
    let failure: Error | undefined;
    decompressor.execute((err) => {
      if (err) failure = err;
    });
    if (failure) throw failure;
    const fields: string[] = [];
    for (let h = decompressor.read() as HpackJsHeader | null; h !== null; h = decompressor.read() as HpackJsHeader) {
      fields.push(h.name, h.value);
    }
    return fields;
  });
}

/** Encodes `fields` with hpack.js, Huffman-coding every string. */
function hpackJsEncode(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  const compressor = hpackJs.compressor.create({ table: { size: 4096 } });
  compressor.write(fields.map(([name, value]) => ({ name, value, huffman: true })));
  const parts: Buffer[] = [];
  for (let b = compressor.read() as Buffer | null; b !== null; b = compressor.read() as Buffer | null) parts.push(b);
  return Buffer.concat(parts);
}

const DATE_21 = "Mon, 21 Oct 2013 20:13:21 GMT";
const DATE_22 = "Mon, 21 Oct 2013 20:13:22 GMT";
const COOKIE = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";

// RFC 7541 C.3 (no Huffman) and C.4 (Huffman): three requests on one connection.
const REQUESTS: ReadonlyArray<readonly string[]> = [
  [":method", "GET", ":scheme", "http", ":path", "/", ":authority", "www.example.com"],
  [":method", "GET", ":scheme", "http", ":path", "/", ":authority", "www.example.com", "cache-control", "no-cache"],
  [
    ":method",
    "GET",
    ":scheme",
    "https",
    ":path",
    "/index.html",
    ":authority",
    "www.example.com",
    "custom-key",
    "custom-value",
  ],
];
const C3 = [
  hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"),
  hex("8286 84be 5808 6e6f 2d63 6163 6865"),
  hex("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"),
];
const C4 = [
  hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"),
  hex("8286 84be 5886 a8eb 1064 9cbf"),
  hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
];

// RFC 7541 C.5 (responses, table size 256, so entries are evicted).
const RESPONSES: ReadonlyArray<readonly string[]> = [
  [":status", "302", "cache-control", "private", "date", DATE_21, "location", "https://www.example.com"],
  [":status", "307", "cache-control", "private", "date", DATE_21, "location", "https://www.example.com"],
  [
    ":status",
    "200",
    "cache-control",
    "private",
    "date",
    DATE_22,
    "location",
    "https://www.example.com",
    "content-encoding",
    "gzip",
    "set-cookie",
    COOKIE,
  ],
];
const C5 = [
  hex(
    `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d
     546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
  ),
  hex("4803 3330 37c1 c0bf"),
  hex(
    `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f
     6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b
     2076 6572 7369 6f6e 3d31`,
  ),
];

describe("HpackDecoder: RFC 7541 Appendix C", () => {
  it("C.2.1 literal with indexing adds the field to the dynamic table", () => {
    const decoder = new HpackDecoder(4096);
    const block = hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
    expect(decoder.decode(block)).toEqual(["custom-key", "custom-header"]);
    expect(decoder.decode(hex("be"))).toEqual(["custom-key", "custom-header"]);
  });

  it("C.2.2 literal without indexing leaves the dynamic table empty", () => {
    const decoder = new HpackDecoder(4096);
    expect(decoder.decode(hex("040c 2f73 616d 706c 652f 7061 7468"))).toEqual([":path", "/sample/path"]);
    expect(() => decoder.decode(hex("be"))).toThrow(HpackError);
  });

  it("C.2.3 never-indexed literal leaves the dynamic table empty", () => {
    const decoder = new HpackDecoder(4096);
    expect(decoder.decode(hex("1008 7061 7373 776f 7264 0673 6563 7265 74"))).toEqual(["password", "secret"]);
    expect(() => decoder.decode(hex("be"))).toThrow(HpackError);
  });

  it("C.2.4 indexed field from the static table", () => {
    expect(new HpackDecoder(4096).decode(hex("82"))).toEqual([":method", "GET"]);
  });

  it.each([
    ["C.3 (raw strings)", C3],
    ["C.4 (Huffman strings)", C4],
  ])("%s: three requests sharing the dynamic table", (_name, blocks) => {
    const decoder = new HpackDecoder(4096);
    expect(blocks.map((b) => decoder.decode(b))).toEqual(REQUESTS);
    // The table now holds, newest first: custom-key, cache-control, :authority.
    expect(decoder.decode(hex("bebfc0"))).toEqual([
      "custom-key",
      "custom-value",
      "cache-control",
      "no-cache",
      ":authority",
      "www.example.com",
    ]);
    expect(() => decoder.decode(hex("c1"))).toThrow(HpackError);
    // The vectors themselves, checked by an independent decoder.
    expect(hpackJsDecode(blocks)).toEqual(REQUESTS);
  });

  it("C.5: responses with a 256-byte table evict the oldest entries", () => {
    const decoder = new HpackDecoder(256);
    expect(C5.map((b) => decoder.decode(b))).toEqual(RESPONSES);
    expect(decoder.decode(hex("bebfc0"))).toEqual(["set-cookie", COOKIE, "content-encoding", "gzip", "date", DATE_22]);
    expect(() => decoder.decode(hex("c1"))).toThrow(HpackError);
    expect(hpackJsDecode(C5, 256)).toEqual(RESPONSES);
  });

  it("a table size update evicts, and the table works again afterwards", () => {
    const decoder = new HpackDecoder(4096);
    decoder.decode(C3[0] as Buffer);
    expect(decoder.decode(hex("20 82"))).toEqual([":method", "GET"]); // size 0, then a field
    expect(() => decoder.decode(hex("be"))).toThrow(HpackError);
    // Back to 4096 (3f e1 1f): entries are kept again.
    decoder.decode(hex("3fe11f 400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"));
    expect(decoder.decode(hex("be"))).toEqual(["custom-key", "custom-header"]);
  });

  it("an entry larger than the table empties it and is not added", () => {
    const decoder = new HpackDecoder(64);
    decoder.decode(hex("4001 61 0162")); // a: b (34 bytes)
    expect(decoder.decode(hex("be"))).toEqual(["a", "b"]);
    const big = "x".repeat(40); // 1 + 40 + 32 > 64
    decoder.decode(Buffer.concat([hex("4001 61 28"), Buffer.from(big)]));
    expect(() => decoder.decode(hex("be"))).toThrow(HpackError);
  });
});

describe("HpackDecoder: malformed blocks are HpackErrors", () => {
  it.each([
    ["indexed field 0", "80"],
    ["index past the static table with an empty dynamic table", "be"],
    ["index far past the tables", "ff 80 01"],
    ["literal name index past the tables", "7f 20 01 61"],
    ["integer that runs past the block", "ff 80"],
    ["integer above 2^31 - 1", "ff ff ff ff ff 0f"],
    ["string longer than the block", "00 05 61 62"],
    ["string length missing", "00"],
    ["value missing after the name", "00 01 61"],
    ["table size update above the maximum (4097)", "3f e2 1f"],
    ["table size update after a field", "82 20"],
    ["Huffman string containing EOS", "00 84 ffffffff 00"],
    ["Huffman padding of 8 bits", "00 82 1fff 00"],
    ["Huffman padding with a zero bit", "00 81 18 00"],
  ])("%s", (_name, block) => {
    expect(() => new HpackDecoder(4096).decode(hex(block))).toThrow(HpackError);
  });

  // An integer with hundreds of zero continuation bytes must decode to its value or be
  // refused (RFC 7541 5.1), never to NaN. Each block here is too short for the value
  // (127 + 0) it encodes, so it must be refused, not read as an empty string that
  // silently drops the rest of the block.
  it.each([
    ["name length", "00 7f", "00 61"],
    ["value length", "00 01 61 7f", "00 82"],
    ["indexed field", "ff", "00"],
  ])("an overlong integer (%s) is not read as NaN", (_name, prefix, suffix) => {
    const block = Buffer.concat([hex(prefix), Buffer.alloc(200, 0x80), hex(suffix)]);
    expect(() => new HpackDecoder(4096).decode(block)).toThrow(HpackError);
  });

  it("a NaN table size does not make the dynamic table unbounded", () => {
    const decoder = new HpackDecoder(4096);
    let accepted = true;
    try {
      decoder.decode(Buffer.concat([hex("3f"), Buffer.alloc(200, 0x80), hex("00")]));
    } catch (err) {
      expect(err).toBeInstanceOf(HpackError);
      accepted = false;
    }
    if (!accepted) return;
    // 31 is the size it encodes: one 34-byte entry must not fit.
    decoder.decode(hex("4001 61 0162"));
    expect(() => decoder.decode(hex("be"))).toThrow(HpackError);
  });
});

describe("HpackDecoder: repeated string literals", () => {
  // A literal without indexing of :path (static name 4) with a raw or Huffman-coded value.
  const pathBlock = (value: Buffer, huffman: boolean): Buffer =>
    Buffer.concat([Buffer.from([0x04, (huffman ? 0x80 : 0) | value.length]), value]);

  it("decodes the same literal the same on every block", () => {
    const decoder = new HpackDecoder(4096);
    const block = hpackJsEncode([["x-path", "/sessions.v1.SessionTable/getSession"]]);
    for (let i = 0; i < 3; i++) {
      expect(decoder.decode(block)).toEqual(["x-path", "/sessions.v1.SessionTable/getSession"]);
    }
  });

  it("tells apart literals of one length, first and last byte (one cache slot)", () => {
    const decoder = new HpackDecoder(4096);
    for (const value of ["/a1c", "/a2c", "/a1c", "/a3c"]) {
      expect(decoder.decode(pathBlock(Buffer.from(value, "latin1"), false))).toEqual([":path", value]);
    }
  });

  it("tells a Huffman literal from a raw one with the same bytes", () => {
    const decoder = new HpackDecoder(4096);
    const coded = hex("a8eb 1064 9cbf"); // "no-cache"
    expect(decoder.decode(pathBlock(coded, true))).toEqual([":path", "no-cache"]);
    expect(decoder.decode(pathBlock(coded, false))).toEqual([":path", coded.toString("latin1")]);
    expect(decoder.decode(pathBlock(coded, true))).toEqual([":path", "no-cache"]);
  });

  it("still refuses a bad Huffman literal after good ones", () => {
    const decoder = new HpackDecoder(4096);
    expect(decoder.decode(pathBlock(hex("1f"), true))).toEqual([":path", "a"]);
    expect(() => decoder.decode(pathBlock(hex("18"), true))).toThrow(HpackError);
  });

  it("decodes long literals (not cached) every time", () => {
    const decoder = new HpackDecoder(4096);
    const long = "/".padEnd(300, "x");
    const block = hpackJsEncode([["x-long", long]]);
    expect(decoder.decode(block)).toEqual(["x-long", long]);
    expect(decoder.decode(block)).toEqual(["x-long", long]);
  });
});

describe("decodeHuffman", () => {
  const decode = (text: string): string => {
    const bytes = hex(text);
    return decodeHuffman(bytes, 0, bytes.length);
  };

  it("decodes the RFC 7541 C.4 strings", () => {
    expect(decode("f1e3 c2e5 f23a 6ba0 ab90 f4ff")).toBe("www.example.com");
    expect(decode("a8eb 1064 9cbf")).toBe("no-cache");
    expect(decode("25a8 49e9 5ba9 7d7f")).toBe("custom-key");
    expect(decode("25a8 49e9 5bb8 e8b4 bf")).toBe("custom-value");
  });

  it("decodes only [start, end) of its source", () => {
    const bytes = hex("00 a8eb 1064 9cbf 00");
    expect(decodeHuffman(bytes, 1, bytes.length - 1)).toBe("no-cache");
    expect(decodeHuffman(bytes, 1, 1)).toBe("");
  });

  it("decodes every byte value as hpack.js encodes it", () => {
    const all = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join("");
    const block = hpackJsEncode([["x-all", all]]);
    expect(new HpackDecoder(4096).decode(block)).toEqual(["x-all", all]);
  });

  it.each([
    ["EOS (30 one bits)", "ffff ffff"],
    ["padding of 8 one bits", "1f ff"],
    ["padding of 8 one bits alone", "ff"],
    ["padding with a zero bit", "18"],
    ["padding of zero bits", "00"],
  ])("refuses %s", (_name, text) => {
    expect(() => decode(text)).toThrow(HuffmanError);
  });

  it("accepts up to 7 bits of one-padding", () => {
    expect(decode("1f")).toBe("a"); // 00011 + 111
    expect(decode("ff 01")).toBe("?0"); // 1111111100 (?) + 00000 (0) + 1 padding
  });
});

describe("encodeHeaderBlock", () => {
  const headers = {
    "grpc-message": "a%20b",
    ":status": 200,
    "Content-Type": "application/grpc",
    "x-multi": ["one", "two"],
    "x-skip": undefined,
    "x-long": "v".repeat(5000),
    "x-latin1": "caf\u00e9",
  };
  const expected = [
    ":status",
    "200",
    "grpc-message",
    "a%20b",
    "content-type",
    "application/grpc",
    "x-multi",
    "one",
    "x-multi",
    "two",
    "x-long",
    "v".repeat(5000),
    "x-latin1",
    "caf\u00e9",
  ];

  it("round-trips through HpackDecoder: pseudo-headers first, names lower-cased, arrays repeated", () => {
    expect(new HpackDecoder(4096).decode(encodeHeaderBlock(headers))).toEqual(expected);
  });

  it("is read the same by hpack.js", () => {
    expect(hpackJsDecode([encodeHeaderBlock(headers)])).toEqual([expected]);
  });

  it("never touches the peer's dynamic table", () => {
    const decoder = new HpackDecoder(4096);
    decoder.decode(encodeHeaderBlock({ ":status": 404, "grpc-status": "5" }));
    expect(() => decoder.decode(hex("be"))).toThrow(HpackError);
  });

  it("reuses the block of a frozen header object", () => {
    const frozen = Object.freeze({ ":status": 200, "grpc-status": "0" });
    const block = encodeHeaderBlock(frozen);
    expect(encodeHeaderBlock(frozen)).toBe(block);
    expect(new HpackDecoder(4096).decode(block)).toEqual([":status", "200", "grpc-status", "0"]);
  });
});

describe("AnswerBlocks", () => {
  const headers = { ":status": 200, "content-type": "application/grpc+proto", "grpc-encoding": "identity" };
  const trailers = { "grpc-status": "0", "grpc-message": "OK" };
  const expected = [
    [":status", "200", "content-type", "application/grpc+proto", "grpc-encoding", "identity"],
    ["grpc-status", "0", "grpc-message", "OK"],
  ];
  const answer = new AnswerBlocks(headers, trailers);

  it("counts the table bytes of its entries (:status 200 is static)", () => {
    expect(answer.tableBytes).toBe(12 + 22 + 32 + (13 + 8 + 32) + (11 + 1 + 32) + (12 + 2 + 32));
  });

  it("inserting, then indexed blocks decode to the same fields, by our decoder and by hpack.js", () => {
    const sequence = [...answer.plain, ...answer.inserting, ...answer.indexed, ...answer.indexed];
    const ours = new HpackDecoder(4096);
    const decoded = sequence.map((block) => ours.decode(block));
    expect(decoded).toEqual([...expected, ...expected, ...expected, ...expected]);
    expect(hpackJsDecode(sequence)).toEqual([...expected, ...expected, ...expected, ...expected]);
  });

  it("indexed blocks take one byte a field", () => {
    expect(answer.indexed[0]).toEqual(Buffer.from([0x88, 0x80 | 65, 0x80 | 64]));
    expect(answer.indexed[1]).toEqual(Buffer.from([0x80 | 63, 0x80 | 62]));
  });

  it("plain blocks leave the table empty", () => {
    const decoder = new HpackDecoder(4096);
    decoder.decode(answer.plain[0]);
    decoder.decode(answer.plain[1]);
    expect(() => decoder.decode(answer.indexed[1])).toThrow(HpackError);
  });
});

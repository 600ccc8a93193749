import type { OutgoingHttpHeaders } from "node:http2";

// Encoded blocks of frozen header objects (the constant response headers and OK trailers).
const frozenBlocks = new WeakMap<OutgoingHttpHeaders, Buffer>();

function pushInteger(out: number[], value: number, prefixBits: number, firstByteFlags: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(firstByteFlags | value);
    return;
  }
  out.push(firstByteFlags | max);
  let rest = value - max;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

function pushString(out: number[], text: string): void {
  const bytes = Buffer.from(text, "latin1");
  pushInteger(out, bytes.length, 7, 0x00);
  for (const byte of bytes) out.push(byte);
}

function pushField(out: number[], name: string, value: string): void {
  if (name === ":status" && value === "200") {
    out.push(0x88); // static table entry 8
    return;
  }
  out.push(0x00); // literal without indexing, new name (RFC 7541 6.2.2)
  pushString(out, name);
  pushString(out, value);
}

/**
 * Encodes response headers or trailers as an HPACK block without touching the
 * peer's dynamic table (every field a literal without indexing), so blocks can
 * be built once and reused on any connection (`AnswerBlocks` adds the fields
 * of an answer that never changes to it). Pseudo-headers come first;
 * array values give one field each; undefined values are skipped. Names are
 * lower-cased, as HTTP/2 requires.
 */
export function encodeHeaderBlock(headers: OutgoingHttpHeaders): Buffer {
  const cached = frozenBlocks.get(headers);
  if (cached !== undefined) return cached;
  const out: number[] = [];
  const names = Object.keys(headers).sort((a, b) => Number(b.startsWith(":")) - Number(a.startsWith(":")));
  for (const key of names) {
    const value = headers[key];
    if (value === undefined) continue;
    const name = key.toLowerCase();
    if (Array.isArray(value)) for (const v of value) pushField(out, name, String(v));
    else pushField(out, name, String(value));
  }
  const block = Buffer.from(out);
  if (Object.isFrozen(headers)) frozenBlocks.set(headers, block);
  return block;
}

// The fields of a header object in block order (pseudo-headers first), names lower-cased.
function fieldsOf(headers: OutgoingHttpHeaders): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  const names = Object.keys(headers).sort((a, b) => Number(b.startsWith(":")) - Number(a.startsWith(":")));
  for (const key of names) {
    const value = headers[key];
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) fields.push([key.toLowerCase(), String(v)]);
  }
  return fields;
}

/**
 * The two header blocks of one kind of answer that never changes (its
 * response headers and its trailers), in three encodings: plain (literals
 * without indexing, as `encodeHeaderBlock`), inserting (the first answer on a
 * connection adds each field but `:status: 200` to the peer's dynamic table,
 * RFC 7541 6.2.1), and indexed (later answers refer to those entries, one
 * byte a field). Shared by all connections; what a connection's peer holds is
 * the connection's to track (`NativeConnection`).
 */
export class AnswerBlocks {
  /** Literal blocks, which leave the peer's table alone. */
  readonly plain: readonly [Buffer, Buffer];
  /** Blocks that add the fields to the peer's table, in this order (headers block, then trailers block). */
  readonly inserting: readonly [Buffer, Buffer];
  /** Blocks that refer to the entries `inserting` added, while they are the newest in the peer's table. */
  readonly indexed: readonly [Buffer, Buffer];
  /** The dynamic table bytes the entries take (name + value + 32 each, RFC 7541 4.1). */
  readonly tableBytes: number;

  constructor(headers: OutgoingHttpHeaders, trailers: OutgoingHttpHeaders) {
    this.plain = [encodeHeaderBlock(headers), encodeHeaderBlock(trailers)];
    const blocks = [fieldsOf(headers), fieldsOf(trailers)];
    const entries = blocks.flat().filter(([name, value]) => !(name === ":status" && value === "200"));
    this.tableBytes = entries.reduce((sum, [name, value]) => sum + name.length + value.length + 32, 0);
    if (entries.length > 127 - 62) throw new RangeError("too many fields to index");
    const inserting = blocks.map((fields) => {
      const out: number[] = [];
      for (const [name, value] of fields) {
        if (name === ":status" && value === "200") out.push(0x88);
        else {
          out.push(0x40); // literal with incremental indexing, new name (RFC 7541 6.2.1)
          pushString(out, name);
          pushString(out, value);
        }
      }
      return Buffer.from(out);
    });
    // Once all are in, the last added has index 62 (the first after the static table), the first the highest.
    let next = 61 + entries.length;
    const indexed = blocks.map((fields) => {
      const out: number[] = [];
      for (const [name, value] of fields) out.push(name === ":status" && value === "200" ? 0x88 : 0x80 | next--);
      return Buffer.from(out);
    });
    this.inserting = [inserting[0] as Buffer, inserting[1] as Buffer];
    this.indexed = [indexed[0] as Buffer, indexed[1] as Buffer];
  }
}

/** A dynamic table size update (RFC 7541 6.3) announcing `size`, to open a header block. */
export function tableSizeUpdate(size: number): Buffer {
  const out: number[] = [];
  pushInteger(out, size, 5, 0x20);
  return Buffer.from(out);
}

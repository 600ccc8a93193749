import { decodeHuffman, HuffmanError } from "./huffman";
import { STATIC_TABLE, STATIC_TABLE_LENGTH } from "./hpack-static-table";

/** A header block that cannot be decoded: a COMPRESSION_ERROR of the connection (RFC 9113 4.3). */
export class HpackError extends Error {
  override readonly name = "HpackError";
}

/** Decoded header fields in order: names at even, values at odd positions. */
export type HeaderFields = string[];

// Per-entry overhead of the dynamic table's size (RFC 7541 4.1).
const ENTRY_OVERHEAD = 32;
const NO_BLOCK = new Uint8Array(0);
// The literal cache: slots (a power of two) and the longest encoded literal it keeps.
const LITERAL_SLOTS = 8;
const LITERAL_MAX_BYTES = 128;

/**
 * String literals decoded lately, by their encoded bytes: a client that does
 * not index a field sends the same literal with every request (nghttp2, so
 * grpc-js, Go and h2load, never index `:path` or `content-length`), and it is
 * then decoded once and the same string given out again. Direct-mapped, at
 * most LITERAL_SLOTS literals of LITERAL_MAX_BYTES each per connection; a
 * literal is only served from it when its Huffman flag and every byte match.
 */
class LiteralCache {
  private readonly encoded: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(LITERAL_SLOTS);
  private readonly huffman: boolean[] = new Array<boolean>(LITERAL_SLOTS).fill(false);
  private readonly decoded: string[] = new Array<string>(LITERAL_SLOTS).fill("");

  /** The slot of `block[start, end)`. */
  slot(block: Uint8Array, start: number, end: number): number {
    const length = end - start;
    if (length === 0) return 0;
    const mixed = length * 31 + (block[start] as number) * 7 + (block[end - 1] as number);
    return mixed & (LITERAL_SLOTS - 1);
  }

  /** The cached string of `block[start, end)` in `slot`, or undefined. */
  get(slot: number, block: Uint8Array, start: number, end: number, huffman: boolean): string | undefined {
    const bytes = this.encoded[slot];
    if (bytes === undefined || bytes.length !== end - start || this.huffman[slot] !== huffman) return undefined;
    for (let i = 0; i < bytes.length; i++) if (bytes[i] !== block[start + i]) return undefined;
    return this.decoded[slot];
  }

  /** Keeps `text`, decoded from `block[start, end)`, in `slot` (nothing for a long literal). */
  set(slot: number, block: Uint8Array, start: number, end: number, huffman: boolean, text: string): void {
    if (end - start > LITERAL_MAX_BYTES) return;
    this.encoded[slot] = block.slice(start, end);
    this.huffman[slot] = huffman;
    this.decoded[slot] = text;
  }
}

/**
 * The HPACK decoder of one HTTP/2 connection (RFC 7541): the static table, a
 * dynamic table bounded by `maxTableSize` (the SETTINGS_HEADER_TABLE_SIZE we
 * advertise), integers, and raw or Huffman string literals. Names and values
 * come out as Latin-1 strings, as Node's http2 gives them.
 */
export class HpackDecoder {
  // Newest entry first.
  private readonly names: string[] = [];
  private readonly values: string[] = [];
  private size = 0;
  private limit: number;
  private pos = 0;
  private block: Uint8Array = NO_BLOCK;
  private readonly literals = new LiteralCache();

  constructor(private readonly maxTableSize: number) {
    this.limit = maxTableSize;
  }

  /**
   * Decodes one complete header block (HEADERS plus CONTINUATION payloads);
   * throws `HpackError`. When the decoded list grows past `maxListBytes`
   * (name + value + 32 per field, RFC 7541 4.1) the rest of the block is
   * still decoded, to keep the dynamic table in step, but no field is kept
   * any more and the answer is undefined: a block of a few KiB that refers to
   * one large table entry thousands of times costs no memory.
   */
  decode(block: Uint8Array, maxListBytes = Infinity): HeaderFields | undefined {
    this.block = block;
    this.pos = 0;
    let fields: HeaderFields | undefined = [];
    let listBytes = 0;
    let fieldSeen = false;
    while (this.pos < block.length) {
      const first = block[this.pos] as number;
      let name: string;
      let value: string;
      if (first & 0x80) {
        const index = this.integer(7);
        name = this.nameAt(index);
        value = this.valueAt(index);
      } else if (first & 0x40) {
        const index = this.integer(6);
        name = index === 0 ? this.string() : this.nameAt(index);
        value = this.string();
        this.insert(name, value);
      } else if (first & 0x20) {
        // A size update may only open a block (RFC 7541 4.2).
        if (fieldSeen) throw new HpackError("dynamic table size update after a header field");
        const size = this.integer(5);
        if (size > this.maxTableSize) throw new HpackError(`dynamic table size ${size} above ${this.maxTableSize}`);
        this.limit = size;
        this.evict(0);
        continue;
      } else {
        // Literal without indexing (0000) or never indexed (0001): nothing to keep once over the limit.
        const index = this.integer(4);
        if (fields === undefined) {
          if (index === 0) this.skipString();
          else this.nameAt(index);
          this.skipString();
          continue;
        }
        name = index === 0 ? this.string() : this.nameAt(index);
        value = this.string();
      }
      fieldSeen = true;
      if (fields === undefined) continue;
      listBytes += name.length + value.length + ENTRY_OVERHEAD;
      if (listBytes > maxListBytes) fields = undefined;
      else fields.push(name, value);
    }
    this.block = NO_BLOCK; // the connection's read buffer is not held on to
    return fields;
  }

  private integer(prefixBits: number): number {
    const block = this.block;
    const mask = (1 << prefixBits) - 1;
    let value = (block[this.pos++] as number) & mask;
    if (value < mask) return value;
    let shift = 0;
    for (;;) {
      if (this.pos >= block.length) throw new HpackError("integer runs past the block");
      const byte = block[this.pos++] as number;
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      // Zero-filled continuation bytes would never overflow the value: cap them too (RFC 7541 5.1).
      if (value > 0x7fffffff || shift > 35) throw new HpackError("integer too large");
      if ((byte & 0x80) === 0) return value;
    }
  }

  private string(): string {
    if (this.pos >= this.block.length) throw new HpackError("string literal missing");
    const huffman = ((this.block[this.pos] as number) & 0x80) !== 0;
    const length = this.integer(7);
    const start = this.pos;
    const end = start + length;
    if (end > this.block.length) throw new HpackError("string literal runs past the block");
    this.pos = end;
    const block = this.block;
    const cache = this.literals;
    const slot = cache.slot(block, start, end);
    const cached = cache.get(slot, block, start, end, huffman);
    if (cached !== undefined) return cached;
    let text: string;
    if (!huffman) {
      text = Buffer.from(block.buffer, block.byteOffset + start, length).toString("latin1");
    } else {
      try {
        text = decodeHuffman(block, start, end);
      } catch (err) {
        if (err instanceof HuffmanError) throw new HpackError(err.message);
        throw err;
      }
    }
    cache.set(slot, block, start, end, huffman, text);
    return text;
  }

  // Steps over a string literal without decoding it.
  private skipString(): void {
    if (this.pos >= this.block.length) throw new HpackError("string literal missing");
    const length = this.integer(7);
    if (this.pos + length > this.block.length) throw new HpackError("string literal runs past the block");
    this.pos += length;
  }

  private nameAt(index: number): string {
    if (index === 0) throw new HpackError("index 0");
    if (index <= STATIC_TABLE_LENGTH) return (STATIC_TABLE[index] as readonly [string, string])[0];
    const name = this.names[index - STATIC_TABLE_LENGTH - 1];
    if (name === undefined) throw new HpackError(`index ${index} outside the tables`);
    return name;
  }

  private valueAt(index: number): string {
    if (index <= STATIC_TABLE_LENGTH) return (STATIC_TABLE[index] as readonly [string, string])[1];
    return this.values[index - STATIC_TABLE_LENGTH - 1] as string;
  }

  private insert(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    this.evict(entrySize);
    if (entrySize > this.limit) return; // too big: the table is now empty (RFC 7541 4.4)
    this.names.unshift(name);
    this.values.unshift(value);
    this.size += entrySize;
  }

  // Evicts oldest entries until `incoming` more bytes fit.
  private evict(incoming: number): void {
    while (this.size + incoming > this.limit && this.names.length > 0) {
      const name = this.names.pop() as string;
      const value = this.values.pop() as string;
      this.size -= name.length + value.length + ENTRY_OVERHEAD;
    }
  }
}

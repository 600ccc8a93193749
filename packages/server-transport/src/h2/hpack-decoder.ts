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
  private block: Uint8Array = new Uint8Array(0);

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
    this.block = new Uint8Array(0);
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
    if (!huffman) return Buffer.from(this.block.buffer, this.block.byteOffset + start, length).toString("latin1");
    try {
      return decodeHuffman(this.block, start, end);
    } catch (err) {
      if (err instanceof HuffmanError) throw new HpackError(err.message);
      throw err;
    }
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

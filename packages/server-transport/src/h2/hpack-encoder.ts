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
 * be built once and reused on any connection. Pseudo-headers come first;
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

/** A dynamic table size update (RFC 7541 6.3) announcing `size`, to open a header block. */
export function tableSizeUpdate(size: number): Buffer {
  const out: number[] = [];
  pushInteger(out, size, 5, 0x20);
  return Buffer.from(out);
}

import * as constants from "./constants";

// Module-local copies: loaders that compile modules to export getters (tsx/esbuild) would otherwise turn each
// use in the hot paths into a getter call.
const { NFGENMSG_LEN, NFNETLINK_V0, NLA_F_NESTED, NLMSG_HDRLEN } = constants;

/** Rounds up to netlink's 4-byte alignment. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * Builds netlink messages into one reusable buffer (several messages make one datagram).
 * Header fields are host byte order (little-endian machines only); attribute payloads are written as given:
 * the `be*` helpers write network byte order, which ctnetlink wants for every integer.
 */
export class MessageWriter {
  private buf: Buffer;
  /** Bytes written so far. */
  length = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.alloc(initialBytes);
  }

  /** The datagram built so far (a view, valid until the next write). */
  get bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  /** The underlying buffer (for sendto without a view). */
  get buffer(): Buffer {
    return this.buf;
  }

  /** Starts over (keeps the memory). */
  reset(): void {
    this.length = 0;
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  /** Begins an nfnetlink message (nlmsghdr + nfgenmsg); returns its start for `endMessage`. */
  beginNfMessage(type: number, flags: number, seq: number, family: number): number {
    this.reserve(NLMSG_HDRLEN + NFGENMSG_LEN);
    const start = this.length;
    const b = this.buf;
    b.writeUInt32LE(0, start);
    b.writeUInt16LE(type, start + 4);
    b.writeUInt16LE(flags, start + 6);
    b.writeUInt32LE(seq >>> 0, start + 8);
    b.writeUInt32LE(0, start + 12);
    b[start + 16] = family;
    b[start + 17] = NFNETLINK_V0;
    b.writeUInt16BE(0, start + 18);
    this.length = start + NLMSG_HDRLEN + NFGENMSG_LEN;
    return start;
  }

  /** Writes the message's length into its header. */
  endMessage(start: number): void {
    this.buf.writeUInt32LE(this.length - start, start);
  }

  // Attribute writers store bytes directly: Buffer.write*() range checks and TypedArray.set() cost more than
  // the few bytes they move.
  private attrHeader(type: number, payloadLen: number): number {
    const total = align4(4 + payloadLen);
    this.reserve(total);
    const b = this.buf;
    const at = this.length;
    const len = 4 + payloadLen;
    b[at] = len & 0xff;
    b[at + 1] = len >>> 8;
    b[at + 2] = type & 0xff;
    b[at + 3] = type >>> 8;
    for (let i = at + len; i < at + total; i++) b[i] = 0; // padding
    this.length = at + total;
    return at + 4;
  }

  /** An attribute holding one byte. */
  u8(type: number, value: number): void {
    const at = this.attrHeader(type, 1); // first: it may replace this.buf
    this.buf[at] = value;
  }

  /** An attribute holding a big-endian u16. */
  be16(type: number, value: number): void {
    const at = this.attrHeader(type, 2);
    const b = this.buf;
    b[at] = (value >>> 8) & 0xff;
    b[at + 1] = value & 0xff;
  }

  /** An attribute holding a big-endian u32. */
  be32(type: number, value: number): void {
    const at = this.attrHeader(type, 4);
    const b = this.buf;
    b[at] = (value >>> 24) & 0xff;
    b[at + 1] = (value >>> 16) & 0xff;
    b[at + 2] = (value >>> 8) & 0xff;
    b[at + 3] = value & 0xff;
  }

  /** An attribute holding raw bytes. */
  raw(type: number, value: Uint8Array): void {
    const at = this.attrHeader(type, value.length);
    const b = this.buf;
    if (value.length > 32) b.set(value, at);
    else for (let i = 0; i < value.length; i++) b[at + i] = value[i] as number;
  }

  /** Begins a nested attribute (NLA_F_NESTED set); returns its start for `endNest`. */
  beginNest(type: number): number {
    this.reserve(4);
    const at = this.length;
    const t = type | NLA_F_NESTED;
    this.buf[at + 2] = t & 0xff;
    this.buf[at + 3] = t >>> 8;
    this.length = at + 4;
    return at;
  }

  /** Closes a nested attribute: its length covers everything written since `beginNest`. */
  endNest(start: number): void {
    const len = this.length - start;
    this.buf[start] = len & 0xff;
    this.buf[start + 1] = len >>> 8;
  }
}

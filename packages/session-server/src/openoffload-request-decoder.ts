import { openoffloadV1 } from "@sessionoffload/offload-api";

// The value of an absent bytes field: one shared zero-length Buffer (ts-proto makes a new one per message).
const EMPTY = Buffer.alloc(0);
// Thrown (once made) to leave the fast path: the caller falls back to ts-proto.
const SLOW = Symbol("slow");

// A reader over one message: the fast path only, so that anything unusual (a varint longer than the field
// needs, an unknown field, a wrong wire type, a group, a tag 0, bytes past the end) falls back.
class FastReader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  // A varint of at most 5 bytes: its low 32 bits as ts-proto's `uint32()` reads them.
  varint32(): number {
    const buf = this.buf;
    let pos = this.pos;
    const end = this.end;
    if (pos >= end) throw SLOW;
    let b = buf[pos++] as number;
    let result = b & 0x7f;
    if (b < 0x80) {
      this.pos = pos;
      return result;
    }
    for (let shift = 7; shift < 28; shift += 7) {
      if (pos >= end) throw SLOW;
      b = buf[pos++] as number;
      result |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return result >>> 0;
      }
    }
    if (pos >= end) throw SLOW;
    b = buf[pos++] as number;
    if (b >= 0x80) throw SLOW; // a 10-byte negative int32 and the like: ts-proto reads those
    this.pos = pos;
    return (result | ((b & 0x0f) << 28)) >>> 0;
  }

  // A uint64 varint below 2^49 (7 bytes), as a bigint; longer ones fall back.
  uint64(): bigint {
    const buf = this.buf;
    let pos = this.pos;
    const end = this.end;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      if (pos >= end) throw SLOW;
      const b = buf[pos++] as number;
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        this.pos = pos;
        return BigInt(value);
      }
      scale *= 128;
    }
    throw SLOW;
  }

  // Length-delimited bytes, copied (as ts-proto does).
  bytes(): Buffer {
    const length = this.varint32();
    const start = this.pos;
    if (length > this.end - start) throw SLOW;
    this.pos = start + length;
    return Buffer.from(this.buf.subarray(start, start + length));
  }
}

function decodeAction(reader: FastReader, length: number): openoffloadV1.actionParameters {
  const end = reader.pos + length;
  if (length > reader.end - reader.pos) throw SLOW;
  const inner = new FastReader(reader.buf, reader.pos, end);
  let actionType = 0;
  let actionNextHop = 0;
  let actionNextHopV6: Buffer = EMPTY;
  while (inner.pos < end) {
    const tag = inner.varint32();
    if (tag === 8) actionType = inner.varint32() | 0;
    else if (tag === 16) actionNextHop = inner.varint32();
    else if (tag === 26) actionNextHopV6 = inner.bytes();
    else throw SLOW;
  }
  reader.pos = end;
  return { actionType, actionNextHop, actionNextHopV6 };
}

function decodeFast(bytes: Uint8Array, start: number, end: number): openoffloadV1.sessionRequest {
  const reader = new FastReader(bytes, start, end);
  const message: openoffloadV1.sessionRequest = {
    sessionId: 0n,
    inLif: 0,
    outLif: 0,
    ipVersion: 0,
    sourceIp: 0,
    sourceIpV6: EMPTY,
    sourcePort: 0,
    destinationIp: 0,
    destinationIpV6: EMPTY,
    destinationPort: 0,
    protocolId: 0,
    action: undefined,
    cacheTimeout: 0,
  };
  while (reader.pos < end) {
    switch (reader.varint32()) {
      case 8:
        message.sessionId = reader.uint64();
        break;
      case 16:
        message.inLif = reader.varint32() | 0;
        break;
      case 24:
        message.outLif = reader.varint32() | 0;
        break;
      case 32:
        message.ipVersion = reader.varint32() | 0;
        break;
      case 40:
        message.sourceIp = reader.varint32();
        break;
      case 50:
        message.sourceIpV6 = reader.bytes();
        break;
      case 56:
        message.sourcePort = reader.varint32();
        break;
      case 64:
        message.destinationIp = reader.varint32();
        break;
      case 74:
        message.destinationIpV6 = reader.bytes();
        break;
      case 80:
        message.destinationPort = reader.varint32();
        break;
      case 88:
        message.protocolId = reader.varint32() | 0;
        break;
      case 98:
        message.action = decodeAction(reader, reader.varint32());
        break;
      case 104:
        message.cacheTimeout = reader.varint32();
        break;
      default:
        throw SLOW;
    }
  }
  return message;
}

/**
 * Decodes an openoffload.v1 `sessionRequest` exactly as ts-proto's
 * `openoffloadV1.sessionRequest.decode` does (same values, same errors), faster
 * for the messages clients send: the known fields with their wire types,
 * varints no longer than their values need (ids below 2^49). Anything else
 * (unknown fields, groups, long or truncated varints, malformed bytes) is
 * decoded by ts-proto itself. Absent bytes fields share one empty Buffer.
 */
export function decodeSessionRequest(bytes: Uint8Array): openoffloadV1.sessionRequest {
  return decodeSessionRequestAt(bytes, 0, bytes.length);
}

/** `decodeSessionRequest` of `bytes[start, end)`, without a view of it unless the message needs ts-proto. */
export function decodeSessionRequestAt(bytes: Uint8Array, start: number, end: number): openoffloadV1.sessionRequest {
  try {
    return decodeFast(bytes, start, end);
  } catch (err) {
    if (err !== SLOW) throw err;
    return openoffloadV1.sessionRequest.decode(bytes.subarray(start, end));
  }
}

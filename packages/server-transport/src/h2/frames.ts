/** HTTP/2 frame types (RFC 9113 6). */
export enum FrameType {
  DATA = 0x0,
  HEADERS = 0x1,
  PRIORITY = 0x2,
  RST_STREAM = 0x3,
  SETTINGS = 0x4,
  PUSH_PROMISE = 0x5,
  PING = 0x6,
  GOAWAY = 0x7,
  WINDOW_UPDATE = 0x8,
  CONTINUATION = 0x9,
}

/** Frame flags. */
export enum Flag {
  END_STREAM = 0x1,
  END_HEADERS = 0x4,
  PADDED = 0x8,
  PRIORITY = 0x20,
}

/** The ACK flag of SETTINGS and PING (the same bit as END_STREAM). */
export const ACK_FLAG = 0x1;

/** HTTP/2 error codes (RFC 9113 7). */
export enum ErrorCode {
  NO_ERROR = 0x0,
  PROTOCOL_ERROR = 0x1,
  INTERNAL_ERROR = 0x2,
  FLOW_CONTROL_ERROR = 0x3,
  SETTINGS_TIMEOUT = 0x4,
  STREAM_CLOSED = 0x5,
  FRAME_SIZE_ERROR = 0x6,
  REFUSED_STREAM = 0x7,
  CANCEL = 0x8,
  COMPRESSION_ERROR = 0x9,
  CONNECT_ERROR = 0xa,
  ENHANCE_YOUR_CALM = 0xb,
  INADEQUATE_SECURITY = 0xc,
  HTTP_1_1_REQUIRED = 0xd,
}

/** SETTINGS identifiers. */
export enum Setting {
  HEADER_TABLE_SIZE = 0x1,
  ENABLE_PUSH = 0x2,
  MAX_CONCURRENT_STREAMS = 0x3,
  INITIAL_WINDOW_SIZE = 0x4,
  MAX_FRAME_SIZE = 0x5,
  MAX_HEADER_LIST_SIZE = 0x6,
}

/** Size of a frame header. */
export const FRAME_HEADER_BYTES = 9;
/** The client connection preface (RFC 9113 3.4). */
export const CLIENT_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
/** The largest flow-control window (2^31 - 1). */
export const MAX_WINDOW = 0x7fffffff;
/** Default SETTINGS_INITIAL_WINDOW_SIZE and connection window. */
export const DEFAULT_WINDOW = 65535;
/** Default (and minimum) SETTINGS_MAX_FRAME_SIZE. */
export const DEFAULT_MAX_FRAME_SIZE = 16384;

/** Writes a frame header at `offset` of `target`. */
export function writeFrameHeader(
  target: Buffer,
  offset: number,
  length: number,
  type: FrameType,
  flags: number,
  streamId: number,
): void {
  target[offset] = (length >>> 16) & 0xff;
  target[offset + 1] = (length >>> 8) & 0xff;
  target[offset + 2] = length & 0xff;
  target[offset + 3] = type;
  target[offset + 4] = flags;
  target.writeUInt32BE(streamId, offset + 5);
}

/**
 * A header block as HEADERS frames for `streamId`: one HEADERS frame, or a
 * HEADERS followed by CONTINUATION frames when the block is longer than
 * `maxFrameSize`; END_STREAM (when asked) on the HEADERS, END_HEADERS on the
 * last; one buffer.
 */
export function headerFrames(streamId: number, block: Buffer, endStream: boolean, maxFrameSize: number): Buffer {
  const count = Math.max(1, Math.ceil(block.length / maxFrameSize));
  const out = Buffer.allocUnsafe(count * FRAME_HEADER_BYTES + block.length);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const part = block.subarray(i * maxFrameSize, Math.min(block.length, (i + 1) * maxFrameSize));
    const type = i === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
    const flags = (i === 0 && endStream ? Flag.END_STREAM : 0) | (i === count - 1 ? Flag.END_HEADERS : 0);
    writeFrameHeader(out, at, part.length, type, flags, streamId);
    at += FRAME_HEADER_BYTES;
    at += part.copy(out, at);
  }
  return out;
}

/** A whole frame with `payload`. */
export function frame(type: FrameType, flags: number, streamId: number, payload?: Uint8Array): Buffer {
  const length = payload?.length ?? 0;
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
  writeFrameHeader(out, 0, length, type, flags, streamId);
  if (payload) out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** A frame whose payload is one 32-bit number (RST_STREAM, WINDOW_UPDATE). */
export function uint32Frame(type: FrameType, streamId: number, value: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 4);
  writeFrameHeader(out, 0, 4, type, 0, streamId);
  out.writeUInt32BE(value >>> 0, FRAME_HEADER_BYTES);
  return out;
}

/** A GOAWAY frame. */
export function goawayFrame(lastStreamId: number, code: ErrorCode, debug = ""): Buffer {
  const text = Buffer.from(debug, "utf8");
  const payload = Buffer.allocUnsafe(8 + text.length);
  payload.writeUInt32BE(lastStreamId, 0);
  payload.writeUInt32BE(code, 4);
  text.copy(payload, 8);
  return frame(FrameType.GOAWAY, 0, 0, payload);
}

/** A SETTINGS frame with `entries` as [identifier, value] pairs. */
export function settingsFrame(entries: ReadonlyArray<readonly [Setting, number]>): Buffer {
  const payload = Buffer.allocUnsafe(6 * entries.length);
  entries.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, 6 * i);
    payload.writeUInt32BE(value, 6 * i + 2);
  });
  return frame(FrameType.SETTINGS, 0, 0, payload);
}

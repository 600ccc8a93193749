import { grownBuffer } from "../grown-buffer";

/** A length-prefixed gRPC message longer than the receive limit. */
export class MessageTooLargeError extends Error {
  override readonly name = "MessageTooLargeError";
  constructor(
    readonly length: number,
    readonly limit: number,
  ) {
    super(`Received message larger than max (${length} vs. ${limit})`);
  }
}

/**
 * Receives each complete message: its compressed flag (true for any flags byte but 0: PROTOCOL-HTTP2 defines
 * only 0 and 1, and neither a compressed nor an invalid message is one a native call can take) and where its
 * bytes are, `buffer[start, end)` (the input chunk's memory when the message lies in one chunk: no view is
 * made per message).
 */
export type MessageSink = (compressed: boolean, buffer: Buffer, start: number, end: number) => void;

/** Reassembles gRPC length-prefixed messages from DATA chunks split anywhere. */
export interface FrameDecoder {
  /** Feeds one chunk; calls `sink` for each message it completes. Throws `MessageTooLargeError` past the limit. */
  push(chunk: Buffer, sink: MessageSink): void;
  /** Bytes of an incomplete message held (0 between messages). */
  readonly pendingBytes: number;
}

const PREFIX = 5;

// The smallest buffer a message split across chunks starts in (or its length, if smaller).
const MIN_BODY = 1024;

/**
 * Creates a decoder of the gRPC message framing (1 flag byte, 4-byte
 * big-endian length, the message). `maxLength` caps a message's length
 * (-1: no cap); the check runs on the prefix, before the body is buffered.
 */
export function createFrameDecoder(maxLength: number): FrameDecoder {
  // From the pool (no ArrayBuffer per call); only bytes written are read (`prefixFill`).
  const prefix = Buffer.allocUnsafe(PREFIX);
  let prefixFill = 0;
  // A message split across chunks is copied into `body`, grown by doubling up to its `bodyLength`: what is held is
  // at most twice what came, however large the prefix says the message is.
  let body: Buffer | undefined;
  let bodyLength = 0;
  let bodyFill = 0;

  const checkLength = (length: number): void => {
    if (maxLength !== -1 && length > maxLength) throw new MessageTooLargeError(length, maxLength);
  };

  return {
    get pendingBytes() {
      return prefixFill + bodyFill;
    },
    push(chunk, sink) {
      let at = 0;
      while (at < chunk.length) {
        if (body === undefined) {
          let flag: number;
          let length: number;
          if (prefixFill === 0 && chunk.length - at >= PREFIX) {
            flag = chunk[at] as number;
            length = chunk.readUInt32BE(at + 1);
            at += PREFIX;
          } else {
            const take = Math.min(PREFIX - prefixFill, chunk.length - at);
            chunk.copy(prefix, prefixFill, at, at + take);
            prefixFill += take;
            at += take;
            if (prefixFill < PREFIX) return;
            flag = prefix[0] as number;
            length = prefix.readUInt32BE(1);
          }
          checkLength(length);
          const compressed = flag !== 0;
          if (chunk.length - at >= length) {
            // The whole message is in this chunk: hand out its place, no copy.
            prefixFill = 0;
            sink(compressed, chunk, at, at + length);
            at += length;
            continue;
          }
          prefix[0] = flag;
          prefix.writeUInt32BE(length, 1);
          prefixFill = PREFIX;
          body = grownBuffer(undefined, 0, chunk.length - at, MIN_BODY, length);
          bodyLength = length;
          bodyFill = 0;
        }
        const take = Math.min(bodyLength - bodyFill, chunk.length - at);
        body = grownBuffer(body, bodyFill, bodyFill + take, MIN_BODY, bodyLength);
        chunk.copy(body, bodyFill, at, at + take);
        bodyFill += take;
        at += take;
        if (bodyFill === bodyLength) {
          const done = body;
          body = undefined;
          bodyFill = 0;
          prefixFill = 0;
          sink(prefix[0] !== 0, done, 0, done.length);
        }
      }
    },
  };
}

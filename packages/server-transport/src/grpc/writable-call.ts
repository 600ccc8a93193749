import { EventEmitter } from "node:events";
import type { IncomingHttpHeaders } from "node:http2";
import { status, Metadata, type ServerErrorResponse, type StatusObject } from "@grpc/grpc-js";
import {
  hostOf,
  isGone,
  peerOf,
  requestMetadata,
  respondTrailersOnly,
  responseHeaders,
  statusTrailers,
  type CallStream,
  type NativeCallBase,
} from "./call-context";
import type { CallTracker } from "../call-observer";
import { cutOffCode } from "../observed-call";
import type { CallOptions } from "./call-options";
import { errorToStatus, messageOf, OK_STATUS, type GrpcStatus } from "./grpc-status";

type WriteCallback = (error?: Error | null) => void;

/**
 * The server-streaming call object of the native transport: what grpc-js's
 * ServerWritableStream offers to a handler. `write` returns false while
 * HTTP/2 flow control holds the stream back, then 'drain' is emitted; a write
 * callback fires once the message has been handed to HTTP/2 (never for a
 * message dropped because the call was cancelled). `emit("error", err)` ends
 * the call with that error's status; `end()` with OK. 'cancelled' is emitted
 * (and `cancelled` set) when the client resets the stream or goes away, or the
 * deadline passes; 'close' when the HTTP/2 stream closes.
 */
export interface NativeWritableCall extends EventEmitter, NativeCallBase {
  write(message: unknown, encoding?: string | WriteCallback, callback?: WriteCallback): boolean;
  end(metadata?: Metadata): this;
}

/** What the server-stream route needs to drive a `NativeWritableCall`. */
export interface WritableCallControl {
  /** The call object handed to the handler. */
  readonly call: NativeWritableCall;
  /** Ends the call with `status` now (deadline, handler crash); buffered messages not yet handed to HTTP/2 are dropped. */
  abort(status: GrpcStatus): void;
}

/** Everything `createWritableCall` needs besides the stream. */
export interface WritableCallInit {
  readonly headers: IncomingHttpHeaders;
  readonly path: string;
  readonly request: unknown;
  readonly deadline: number;
  readonly serialize: (value: unknown) => Uint8Array;
  readonly options: CallOptions;
  /** Called once when the call is over (status sent or cancelled): clears the deadline timer. */
  readonly onDone: () => void;
  /** Told each response message and, once, the status (CANCELLED when the client went away). */
  readonly tracker?: CallTracker | undefined;
}

const WAIT_FOR_TRAILERS = Object.freeze({ waitForTrailers: true });
const PREFIX = 5;

/**
 * Creates the call object of one server-streaming call on `stream`.
 * Consecutive messages are framed into one slab and handed to HTTP/2 in
 * writes of up to `options.streamChunkBytes` (when the slab is full, at
 * `end()`, or on the next turn of the event loop), so that a long listing
 * costs one stream write per chunk rather than per message. Backpressure
 * follows the HTTP/2 stream: once a stream write returns false, `write`
 * returns false until the stream's 'drain', so a paused reader holds the
 * server to about one chunk plus the stream's buffer.
 */
export function createWritableCall(stream: CallStream, init: WritableCallInit): WritableCallControl {
  const { headers, path, options, serialize } = init;
  const chunkBytes = options.streamChunkBytes;
  const call = new EventEmitter() as NativeWritableCall;
  let metadata: Metadata | undefined;
  let custom: Metadata | undefined;
  let headersSent = false;
  let ended = false; // end() called, or the call aborted
  let over = false; // status sent or the call cancelled: nothing more goes out
  let blocked = false; // the last stream write returned false and 'drain' has not come
  let pendingStatus: GrpcStatus = OK_STATUS;
  // The slab being filled: bytes [slabStart, slabEnd) are framed messages not yet written.
  let slab: Buffer | undefined;
  let slabStart = 0;
  let slabEnd = 0;
  let slabCallbacks: WriteCallback[] = [];
  let flushTimer: NodeJS.Immediate | undefined;

  const tracker = init.tracker;
  const finish = (code: number): void => {
    if (over) return;
    over = true;
    tracker?.ended(code);
    if (flushTimer !== undefined) clearImmediate(flushTimer);
    flushTimer = undefined;
    slab = undefined;
    slabCallbacks = [];
    init.onDone();
  };

  const sendHeaders = (): void => {
    if (headersSent) return;
    headersSent = true;
    stream.respond(responseHeaders(custom), WAIT_FOR_TRAILERS);
  };

  const writeOut = (bytes: Buffer, callbacks: WriteCallback[]): void => {
    const done =
      callbacks.length === 0
        ? undefined
        : (err?: Error | null) => {
            // As grpc-js: a message that did not reach HTTP/2 gets no callback.
            if (err) return;
            for (const cb of callbacks) cb();
          };
    if (!stream.write(bytes, done)) blocked = true;
  };

  const flush = (): void => {
    if (flushTimer !== undefined) clearImmediate(flushTimer);
    flushTimer = undefined;
    if (slab === undefined || slabEnd === slabStart || over) return;
    const out = slab.subarray(slabStart, slabEnd);
    const callbacks = slabCallbacks;
    slabCallbacks = [];
    // The rest of the slab keeps taking messages: HTTP/2 holds only the part written.
    slabStart = slabEnd;
    writeOut(out, callbacks);
  };

  const scheduleFlush = (): void => {
    flushTimer ??= setImmediate(flush);
  };

  const append = (message: Uint8Array, callback: WriteCallback | undefined): void => {
    const size = PREFIX + message.length;
    if (size > chunkBytes) {
      // Larger than a chunk: written on its own, after what is pending.
      flush();
      const frame = Buffer.allocUnsafe(size);
      frame[0] = 0;
      frame.writeUInt32BE(message.length, 1);
      frame.set(message, PREFIX);
      writeOut(frame, callback ? [callback] : []);
      return;
    }
    if (slab !== undefined && slabEnd - slabStart + size > chunkBytes) flush();
    if (slab === undefined || slab.length - slabEnd < size) {
      flush();
      slab = Buffer.allocUnsafe(chunkBytes);
      slabStart = 0;
      slabEnd = 0;
    }
    slab[slabEnd] = 0;
    slab.writeUInt32BE(message.length, slabEnd + 1);
    slab.set(message, slabEnd + PREFIX);
    slabEnd += size;
    if (callback) slabCallbacks.push(callback);
    if (slabEnd - slabStart >= chunkBytes) flush();
    else scheduleFlush();
  };

  const sendStatus = (status: GrpcStatus): void => {
    if (over) return;
    finish(status.code);
    if (isGone(stream)) return;
    if (!headersSent) {
      respondTrailersOnly(stream, status);
    } else {
      const trailers = statusTrailers(status);
      stream.once("wantTrailers", () => stream.sendTrailers(trailers));
      stream.end();
    }
    call.emit("finish");
  };

  const abort = (status: GrpcStatus): void => {
    if (over) return;
    ended = true;
    slab = undefined;
    slabCallbacks = [];
    sendStatus(status);
    call.cancelled = true;
    call.emit("cancelled", "cancelled");
  };

  stream.on("error", () => undefined);
  stream.on("drain", () => {
    blocked = false;
    call.emit("drain");
  });
  stream.on("close", () => {
    if (!over) {
      finish(cutOffCode(init.deadline));
      call.cancelled = true;
      call.emit("cancelled", "cancelled");
    }
    call.emit("close");
  });

  Object.defineProperties(call, {
    request: { value: init.request, enumerable: true },
    metadata: { get: () => (metadata ??= requestMetadata(headers)), enumerable: true },
  });
  call.cancelled = false;
  call.getPeer = () => peerOf(stream);
  call.getDeadline = () => init.deadline;
  call.getPath = () => path;
  call.getHost = () => hostOf(headers);
  call.sendMetadata = (md) => {
    if (!headersSent && !over) {
      custom = md;
      sendHeaders();
    }
  };
  call.write = (message, encoding, callback) => {
    const cb = typeof encoding === "function" ? encoding : callback;
    if (ended || over) return false;
    let bytes: Uint8Array;
    try {
      bytes = serialize(message);
    } catch (e) {
      abort({ code: status.INTERNAL, details: `Error serializing response: ${messageOf(e)}` });
      return false;
    }
    const limit = options.maxSendMessageLength;
    if (limit !== -1 && bytes.length > limit) {
      abort({
        code: status.RESOURCE_EXHAUSTED,
        details: `Sent message larger than max (${bytes.length} vs. ${limit})`,
      });
      return false;
    }
    sendHeaders();
    append(bytes, cb);
    tracker?.messageSent();
    return !blocked;
  };
  call.end = (trailing?: Metadata) => {
    if (ended) return call;
    ended = true;
    flush();
    sendStatus(trailing && pendingStatus.metadata == null ? { ...pendingStatus, metadata: trailing } : pendingStatus);
    return call;
  };
  // As grpc-js's ServerWritableStream: an emitted error becomes the call's status.
  call.on("error", (err: ServerErrorResponse | Partial<StatusObject>) => {
    pendingStatus = errorToStatus(err);
    call.end();
  });

  return { call, abort };
}

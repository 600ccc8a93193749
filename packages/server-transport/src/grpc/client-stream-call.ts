import type { IncomingHttpHeaders } from "node:http2";
import { Readable } from "node:stream";
import {
  status,
  type Metadata,
  type sendUnaryData,
  type ServerErrorResponse,
  type ServerReadableStream,
  type StatusObject,
} from "@grpc/grpc-js";
import {
  frameMessage,
  hostOf,
  isGone,
  peerOf,
  requestMetadata,
  respondTrailersOnly,
  responseHeaders,
  statusTrailers,
  type CallStream,
  type NativeCallInfo,
} from "./call-context";
import { DEADLINE_EXCEEDED, isDeadlineError, startDeadline, type CallDeadline } from "./call-deadline";
import type { CallOptions } from "./call-options";
import { createFrameDecoder, MessageTooLargeError, type FrameDecoder } from "./frame-decoder";
import { errorToStatus, messageOf, OK_STATUS, type GrpcStatus } from "./grpc-status";
import type { NativeClientStreamRoute } from "./route";
import type { CallTracker } from "../call-observer";
import type { TransportLimitName } from "../limits";
import { cutOffCode } from "../observed-call";

/**
 * A stream a client-streaming call can be read from with flow control: met
 * by the native transport's NativeStream. With `defersConsumption` set, the
 * peer's receive window is given back only through `consumed`.
 */
export interface ReadableCallStream extends CallStream {
  /** True: request data counts as consumed only when `consumed` says so. */
  defersConsumption: boolean;
  /** `bytes` of request data were consumed: the peer may send that much more (stream and connection windows). */
  consumed(bytes: number): void;
  /** Counts a refusal by `limit` in the transport's statistics. */
  noteLimitHit(limit: TransportLimitName): void;
}

/**
 * The client-streaming call object of the native transport: what grpc-js's
 * ServerReadableStream offers to a handler. It is a Readable in object mode
 * of the decoded requests ('data', 'end' at the client's half-close, paused
 * reading, async iteration), with `cancelled`, `metadata`, `getPeer`,
 * `getDeadline`, `getPath`, `getHost`, `sendMetadata`, and 'cancelled'
 * (then the Readable is destroyed) when the client resets the stream or goes
 * away, the deadline passes, or the request breaks a limit.
 */
export interface NativeReadableCall extends Readable, NativeCallInfo {}

/**
 * Reads a client-streaming call's requests in batches instead of one
 * Readable 'data' event each: what `batchReaderOf` finds on a native call.
 */
export interface RequestBatchReader<Req> {
  /**
   * From now on, the requests go to `onRequests` in stream order, in
   * batches: those the DATA frames of one socket read complete, handed over
   * once that read is processed (a microtask); the array is the listener's
   * to keep. `onEnd` runs after the last batch, once the read that brought
   * the client's half-close is processed (so the answers of the calls one
   * read ends leave in one write); the Readable gives nothing more. Call it once, in
   * the handler, before reading the call any other way (else it throws an
   * Error). Flow control: a batch's bytes are given back to the client when
   * `onRequests` returns. A malformed message ends the call INTERNAL after
   * the requests before it were handed over; 'cancelled' is told as in
   * Readable mode (requests not yet handed over are dropped), and `onEnd`
   * then never runs.
   */
  readBatches(onRequests: (requests: readonly Req[]) => void, onEnd: () => void): void;
}

/**
 * The batch reader of a client-streaming call served by the native transport,
 * or undefined for any other call (grpc-js's): a handler that wants the
 * cheaper batch path checks, and falls back to the Readable. `Req` is the
 * route's request type, as the handler's call is typed.
 */
export function batchReaderOf<Req>(call: ServerReadableStream<Req, unknown>): RequestBatchReader<Req> | undefined {
  return call instanceof ReadableCall ? (call as RequestBatchReader<Req>) : undefined;
}

/** Where a batch-reading call's requests go (see `RequestBatchReader`). */
interface BatchListeners {
  readonly onRequests: (requests: readonly unknown[]) => void;
  readonly onEnd: () => void;
}

const WAIT_FOR_TRAILERS = Object.freeze({ waitForTrailers: true });
// The headers and trailers of a plain answer, frozen: their HPACK blocks are encoded once (see encodeHeaderBlock).
const PLAIN_HEADERS = Object.freeze(responseHeaders(undefined));
const OK_TRAILERS = Object.freeze(statusTrailers(OK_STATUS));
const PREFIX = 5;

// The Readable handed to the handler. Request bytes are given back to the
// client (WINDOW_UPDATE) only as the handler reads the messages: each 'data'
// event gives back its message's bytes, so a handler that does not read holds
// the client to its stream window.
class ReadableCall extends Readable implements NativeReadableCall, RequestBatchReader<unknown> {
  cancelled = false;
  /** Set by `readBatches`: the requests bypass the Readable. */
  batches: BatchListeners | undefined;
  private metadataObject: Metadata | undefined;
  // Wire bytes (prefix + message) of the messages pushed and not yet read, oldest first, from `head`.
  private sizes: number[] = [];
  private head = 0;

  constructor(
    private readonly stream: ReadableCallStream,
    private readonly headers: IncomingHttpHeaders,
    private readonly path: string,
    private readonly deadlineAt: number,
    private readonly onRead: (bytes: number) => void,
    readonly sendMetadata: (metadata: Metadata) => void,
  ) {
    super({ objectMode: true });
  }

  get metadata(): Metadata {
    return (this.metadataObject ??= requestMetadata(this.headers));
  }

  getPeer(): string {
    return peerOf(this.stream);
  }

  getDeadline(): number {
    return this.deadlineAt;
  }

  getPath(): string {
    return this.path;
  }

  getHost(): string | undefined {
    return hostOf(this.headers);
  }

  /** Queues one decoded message of `bytes` wire bytes for the handler. */
  pushMessage(message: unknown, bytes: number): void {
    this.sizes.push(bytes);
    this.push(message);
  }

  readBatches(onRequests: (requests: readonly unknown[]) => void, onEnd: () => void): void {
    if (this.batches !== undefined || this.readableFlowing !== null || this.readableLength > 0 || this.readableEnded) {
      throw new Error("readBatches: the call's requests are already being read");
    }
    this.batches = { onRequests, onEnd };
  }

  override _read(): void {
    // Messages are pushed as they arrive; the client is held back by flow control (see `emit`).
  }

  // Every message reaches the handler through a 'data' event (flowing mode, read(), async iteration).
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === "data") {
      const bytes = this.sizes[this.head++] as number;
      if (this.head === this.sizes.length) {
        this.sizes.length = 0;
        this.head = 0;
      } else if (this.head >= 1024) {
        this.sizes = this.sizes.slice(this.head);
        this.head = 0;
      }
      this.onRead(bytes);
    }
    return super.emit(event, ...args);
  }
}

/**
 * Serves one client-streaming call of `route` on `stream`: runs the handler at
 * once with a `NativeReadableCall` and its callback, then decodes each
 * length-prefixed message as its DATA arrives and pushes it to the call.
 *
 * Limits, as on unary calls: a message longer than
 * `options.maxReceiveMessageLength` is refused at its length prefix
 * (RESOURCE_EXHAUSTED); a compressed message (the call said identity), one
 * `decode` throws on (INTERNAL "Error deserializing request: ...", as
 * grpc-js), or a stream that ends inside a message end the call INTERNAL; the
 * deadline runs from HEADERS (DEADLINE_EXCEEDED). Each of these, and the
 * client's reset, tells the handler 'cancelled'. Flow control: request bytes
 * are given back to the client only as the handler reads the messages, so
 * what the server holds unread is bounded by the stream's receive window.
 * `tracker`, when given, is told each request, the response and the status.
 */
export function serveClientStreamCall(
  stream: ReadableCallStream,
  headers: IncomingHttpHeaders,
  route: NativeClientStreamRoute,
  options: CallOptions,
  tracker?: CallTracker,
): void {
  let over = false; // status sent or the call cut off: nothing more goes out or in
  let headersSent = false;
  let received = 0; // request bytes taken from the stream
  let given = 0; // request bytes given back to the client
  let decoder: FrameDecoder | undefined = createFrameDecoder(options.maxReceiveMessageLength);
  // Set once the deadline has started and the call object exists (before any event can end the call).
  const started: { deadline?: CallDeadline; call?: ReadableCall } = {};

  const giveBack = (bytes: number): void => {
    given += bytes;
    stream.consumed(bytes);
  };
  // Over: the bytes held (unread messages, a partial one) go back to the connection's window.
  const finish = (code: number): void => {
    over = true;
    decoder = undefined;
    started.deadline?.clear();
    tracker?.ended(code);
    if (received > given) giveBack(received - given);
  };
  const sendHeaders = (custom: Metadata | undefined): void => {
    if (headersSent) return;
    headersSent = true;
    stream.respond(custom === undefined ? PLAIN_HEADERS : responseHeaders(custom), WAIT_FOR_TRAILERS);
  };
  const sendStatus = (result: GrpcStatus): void => {
    if (over) return;
    finish(result.code);
    if (isGone(stream)) return;
    if (!headersSent) {
      respondTrailersOnly(stream, result);
      return;
    }
    const trailers = result === OK_STATUS ? OK_TRAILERS : statusTrailers(result);
    stream.once("wantTrailers", () => stream.sendTrailers(trailers));
    stream.end();
  };
  // The server ends the call (deadline, a broken limit, a crash): status, then the handler hears 'cancelled'.
  const abort = (result: GrpcStatus): void => {
    if (over) return;
    sendStatus(result);
    if (started.call !== undefined) cutOff(started.call);
  };
  const cutOff = (readable: ReadableCall): void => {
    readable.cancelled = true;
    readable.emit("cancelled", "cancelled");
    readable.destroy();
  };

  const deadline = startDeadline(headers, () => abort(DEADLINE_EXCEEDED));
  if (isDeadlineError(deadline)) {
    over = true;
    tracker?.ended(deadline.code);
    respondTrailersOnly(stream, deadline);
    return;
  }
  started.deadline = deadline;
  // From here request bytes are given back only through `giveBack`.
  stream.defersConsumption = true;

  const respond: sendUnaryData<unknown> = (err, value, trailer) => {
    if (over) return;
    if (err) {
      sendStatus(errorToStatus(err as ServerErrorResponse | Partial<StatusObject>, trailer));
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = route.serialize(value);
    } catch (e) {
      sendStatus({ code: status.INTERNAL, details: `Error serializing response: ${messageOf(e)}` });
      return;
    }
    const limit = options.maxSendMessageLength;
    if (limit !== -1 && bytes.length > limit) {
      sendStatus({
        code: status.RESOURCE_EXHAUSTED,
        details: `Sent message larger than max (${bytes.length} vs. ${limit})`,
      });
      return;
    }
    sendHeaders(undefined);
    stream.write(frameMessage(bytes));
    tracker?.messageSent();
    sendStatus(trailer ? { ...OK_STATUS, metadata: trailer } : OK_STATUS);
  };

  const readable = new ReadableCall(
    stream,
    headers,
    route.path,
    deadline.at,
    (bytes) => {
      if (!over) giveBack(bytes);
    },
    (metadata) => {
      if (!over) sendHeaders(metadata);
    },
  );
  started.call = readable;

  // Batch reading (readBatches): the requests completed since the last hand-over, and their wire bytes.
  // Clients often send one DATA frame per message: the hand-over waits for the end of the socket read
  // (a microtask), so that the frames of one read make one batch.
  let batch: unknown[] = [];
  let batchBytes = 0;
  let flushQueued = false;
  const flushBatch = (): void => {
    if (batch.length === 0) return;
    const requests = batch;
    const bytes = batchBytes;
    batch = [];
    batchBytes = 0;
    readable.batches?.onRequests(requests);
    if (!over) giveBack(bytes);
  };
  const endBatches = (): void => {
    if (over) return;
    flushBatch();
    if (!over) readable.batches?.onEnd();
  };
  const queuedFlush = (): void => {
    flushQueued = false;
    // A call cut off meanwhile (reset, deadline) drops what it held, as a destroyed Readable does.
    if (!over) flushBatch();
  };
  const decodeRange = route.decodeRange;
  const onMessage = (compressed: boolean, buffer: Buffer, start: number, end: number): void => {
    if (over) return;
    if (compressed) {
      flushBatch();
      abort({ code: status.INTERNAL, details: "Received a compressed message on a call with grpc-encoding identity" });
      return;
    }
    let request: unknown;
    try {
      request = decodeRange !== undefined ? decodeRange(buffer, start, end) : route.decode(buffer.subarray(start, end));
    } catch (err) {
      flushBatch();
      abort({ code: status.INTERNAL, details: `Error deserializing request: ${messageOf(err)}` });
      return;
    }
    tracker?.messageReceived();
    if (readable.batches !== undefined) {
      batch.push(request);
      batchBytes += PREFIX + end - start;
    } else {
      readable.pushMessage(request, PREFIX + end - start);
    }
  };

  stream.on("error", () => undefined);
  stream.on("data", (chunk: Buffer) => {
    received += chunk.length;
    if (over || decoder === undefined) {
      giveBack(chunk.length); // dropped
      return;
    }
    try {
      decoder.push(chunk, onMessage);
    } catch (err) {
      if (!(err instanceof MessageTooLargeError)) throw err;
      flushBatch();
      stream.noteLimitHit("messageSize");
      abort({ code: status.RESOURCE_EXHAUSTED, details: err.message });
      return;
    }
    if (!over && batch.length > 0 && !flushQueued) {
      flushQueued = true;
      queueMicrotask(queuedFlush);
    }
  });
  stream.on("end", () => {
    if (over || decoder === undefined) return;
    if (decoder.pendingBytes > 0) {
      abort({
        code: status.INTERNAL,
        details: `Request ended inside a message (${decoder.pendingBytes} bytes held)`,
      });
      return;
    }
    if (readable.batches !== undefined) {
      // After the read, as the batches: the answers of the calls one read ends go out in one write.
      queueMicrotask(endBatches);
    } else readable.push(null);
  });
  stream.on("close", () => {
    if (over) return;
    finish(cutOffCode(readable.getDeadline()));
    cutOff(readable);
  });

  try {
    // The one cast: the native call offers what ServerReadableStream handlers use (see NativeReadableCall).
    route.handler(readable as unknown as ServerReadableStream<unknown, unknown>, respond);
  } catch (e) {
    abort({ code: status.UNKNOWN, details: `Server method handler threw error ${messageOf(e)}` });
  }
}

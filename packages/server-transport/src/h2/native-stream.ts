import { EventEmitter } from "node:events";
import type { OutgoingHttpHeaders } from "node:http2";
import type { Socket } from "node:net";
import type { TransportLimitName } from "../limits";
import { ErrorCode } from "./frames";
import { encodeHeaderBlock } from "./hpack-encoder";

/** A write's completion callback: called once the bytes are framed for the socket; never for dropped bytes. */
export type WriteCallback = (error?: Error | null) => void;

/**
 * What the connection keeps of each open stream: flow-control state, queued
 * response data, and the events it delivers. Met by `NativeStream` (the
 * general stream) and by `NativeUnaryCall` (unary calls of native routes).
 */
export interface StreamState {
  readonly id: number;
  /** Flow-control window for our DATA on this stream. */
  sendWindow: number;
  /** Bytes of request DATA consumed since our last WINDOW_UPDATE for this stream. */
  receivedUnacked: number;
  /** Request bytes the peer may still send on this stream (our receive window; set by the connection). */
  receiveWindow: number;
  /** True when the stream tells the connection itself (`consumed`) when request data is consumed. */
  readonly defersConsumption?: boolean;
  /** Queued response data, oldest first; `pendingOffset` bytes of the first are sent. */
  readonly pending: Buffer[];
  readonly pendingCallbacks: (WriteCallback | undefined)[];
  pendingOffset: number;
  pendingBytes: number;
  readonly remoteEnded: boolean;
  readonly closed: boolean;
  /** Request DATA (padding removed). */
  receiveData(chunk: Buffer): void;
  /** The peer half-closed. */
  receiveEnd(): void;
  /** The peer reset the stream (its code), or the connection is gone (CANCEL). */
  receiveReset(code: number): void;
  /** The connection sent the last queued byte. */
  dataDrained(): void;
  /** A write returned false earlier and the stream may write again. */
  drained(): void;
}

/** What a stream needs of its connection. */
export interface StreamConnection {
  readonly socket: Socket;
  /** Whether the socket took everything so far (false until its 'drain'). */
  readonly socketWritable: boolean;
  sendHeaders(streamId: number, block: Buffer, endStream: boolean): void;
  sendReset(streamId: number, code: ErrorCode): void;
  /** An empty DATA frame with END_STREAM. */
  sendEndOfData(streamId: number): void;
  /** Sends as much of the stream's queued data as the flow-control windows allow. */
  pump(stream: StreamState): void;
  /** The stream is closed: forget it. */
  release(stream: StreamState): void;
  /** The stream's writes returned false: tell it 'drain' when it may write again. */
  wantDrain(stream: StreamState): void;
  /** `bytes` of the stream's request data were consumed: the peer may send that much more. */
  consumed(stream: StreamState, bytes: number): void;
  /** Counts a refusal by `limit` (e.g. a message too large, seen at its length prefix). */
  noteLimitHit(limit: TransportLimitName): void;
}

/** Queued data beyond which `write` asks the writer to wait for 'drain'. */
export const STREAM_HIGH_WATER_MARK = 64 * 1024;

/** `respond` options, as Node's http2 names them. */
export interface RespondOptions {
  /** The headers end the stream (a trailers-only response). */
  readonly endStream?: boolean;
  /** After `end()` and the last data, emit 'wantTrailers' and wait for `sendTrailers`. */
  readonly waitForTrailers?: boolean;
}

/**
 * One HTTP/2 stream of the native transport, server side, with the part of
 * Node's ServerHttp2Stream API the gRPC calls use: `respond`, `write`, `end`,
 * `sendTrailers`, `close(code)`, `destroyed`/`closed`, `session.socket`, and
 * the events 'data', 'end', 'drain', 'wantTrailers' and 'close' (emitted on
 * the next tick; `rstCode` tells how it ended).
 */
export class NativeStream extends EventEmitter implements StreamState {
  /** Flow-control window for our DATA on this stream. */
  sendWindow: number;
  /** Bytes of request DATA consumed since our last WINDOW_UPDATE for this stream. */
  receivedUnacked = 0;
  /** Request bytes the peer may still send (set by the connection). */
  receiveWindow = 0;
  /**
   * False (default): request data counts as consumed once its 'data'
   * listeners have run. True: the reader calls `consumed(bytes)` as it
   * passes the data on, and the peer's window is given back only then.
   */
  defersConsumption = false;
  /** Queued response data, oldest first; `pendingOffset` bytes of the first are sent. */
  readonly pending: Buffer[] = [];
  readonly pendingCallbacks: (WriteCallback | undefined)[] = [];
  pendingOffset = 0;
  pendingBytes = 0;
  /** The peer half-closed (END_STREAM received). */
  remoteEnded = false;
  /** We sent END_STREAM. */
  localEnded = false;
  closed = false;
  destroyed = false;
  /** The RST_STREAM code the stream ended with (NO_ERROR for a normal end). */
  rstCode: number = ErrorCode.NO_ERROR;
  /** The connection, for `getPeer()`-style lookups: `session.socket`. */
  readonly session: { readonly socket: Socket };
  private headersSent = false;
  private waitForTrailers = false;
  private ending = false;
  // With `defersConsumption`: request bytes passed to 'data' listeners and not yet `consumed`; given back when
  // the stream closes (a reader that stops reading, or never reports, cannot keep them counted as held).
  private unconsumed = 0;

  constructor(
    readonly id: number,
    private readonly connection: StreamConnection,
    initialWindow: number,
  ) {
    super();
    this.sendWindow = initialWindow;
    this.session = { socket: connection.socket };
  }

  /** Whether `respond` was called. */
  get headersAreSent(): boolean {
    return this.headersSent;
  }

  /** Sends the response headers; with `endStream` they end the stream. Ignored once sent or closed. */
  respond(headers: OutgoingHttpHeaders, options?: RespondOptions): void {
    if (this.closed || this.headersSent) return;
    this.headersSent = true;
    this.waitForTrailers = options?.waitForTrailers === true;
    const endStream = options?.endStream === true;
    this.connection.sendHeaders(this.id, encodeHeaderBlock(headers), endStream);
    if (endStream) this.endedLocally();
  }

  /** Queues response data; false when the writer should wait for 'drain'. */
  write(chunk: Uint8Array, callback?: WriteCallback): boolean {
    if (this.closed || this.ending) return false;
    if (!this.headersSent) this.respond({ ":status": 200 });
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    this.pending.push(buffer);
    this.pendingCallbacks.push(callback);
    this.pendingBytes += buffer.length;
    this.connection.pump(this);
    if (this.closed) return false;
    const ok = this.connection.socketWritable && this.pendingBytes < STREAM_HIGH_WATER_MARK;
    if (!ok) this.connection.wantDrain(this);
    return ok;
  }

  /** Ends the response after `chunk` and queued data: then 'wantTrailers' (see `respond`) or END_STREAM. */
  end(chunk?: Uint8Array): this {
    if (this.closed || this.ending) return this;
    if (chunk !== undefined && chunk.length > 0) this.write(chunk);
    if (!this.headersSent) this.respond({ ":status": 200 });
    this.ending = true;
    if (this.pendingBytes === 0) this.dataDrained();
    return this;
  }

  /** Sends the trailers, ending the stream. */
  sendTrailers(headers: OutgoingHttpHeaders): void {
    if (this.closed || this.localEnded) return;
    this.connection.sendHeaders(this.id, encodeHeaderBlock(headers), true);
    this.endedLocally();
  }

  /** Resets the stream with `code` (default CANCEL). */
  close(code: number = ErrorCode.CANCEL): void {
    if (this.closed) return;
    this.connection.sendReset(this.id, code);
    this.finish(code);
  }

  /** The connection sent the last queued byte: finish a pending `end()`. */
  dataDrained(): void {
    if (!this.ending || this.localEnded || this.closed || this.pendingBytes > 0) return;
    if (this.waitForTrailers) {
      this.waitForTrailers = false;
      this.emit("wantTrailers");
    } else {
      this.connection.sendEndOfData(this.id);
      this.endedLocally();
    }
  }

  drained(): void {
    if (!this.closed) this.emit("drain");
  }

  /** The peer sent request data. */
  receiveData(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.closed || this.remoteEnded) {
      if (this.defersConsumption) this.connection.consumed(this, chunk.length); // dropped
      return;
    }
    if (this.defersConsumption) this.unconsumed += chunk.length;
    this.emit("data", chunk);
  }

  /**
   * With `defersConsumption`: `bytes` of request data were consumed (passed
   * on). Only what was received and not yet reported counts: once the stream
   * is closed, its data was let go of already.
   */
  consumed(bytes: number): void {
    const taken = Math.min(bytes, this.unconsumed);
    if (taken <= 0) return;
    this.unconsumed -= taken;
    this.connection.consumed(this, taken);
  }

  /** Counts a refusal of this stream's request by `limit` in the transport's statistics. */
  noteLimitHit(limit: TransportLimitName): void {
    this.connection.noteLimitHit(limit);
  }

  /** The peer half-closed. */
  receiveEnd(): void {
    if (this.closed || this.remoteEnded) return;
    this.remoteEnded = true;
    this.emit("end");
    if (this.localEnded) this.finish(ErrorCode.NO_ERROR);
  }

  /** The peer reset the stream, or the connection is gone. */
  receiveReset(code: number): void {
    this.finish(code);
  }

  // We sent END_STREAM: the stream is done once the peer is; a peer still
  // sending is told to stop with RST_STREAM(NO_ERROR) (RFC 9113 8.1).
  private endedLocally(): void {
    this.localEnded = true;
    if (!this.remoteEnded) this.connection.sendReset(this.id, ErrorCode.NO_ERROR);
    this.finish(ErrorCode.NO_ERROR);
  }

  private finish(code: number): void {
    if (this.closed) return;
    this.closed = true;
    this.destroyed = true;
    this.rstCode = code;
    this.pending.length = 0;
    this.pendingCallbacks.length = 0;
    this.pendingBytes = 0;
    const unconsumed = this.unconsumed;
    this.unconsumed = 0;
    if (unconsumed > 0) this.connection.consumed(this, unconsumed); // dropped with the stream
    this.connection.release(this);
    process.nextTick(() => this.emit("close"));
  }
}

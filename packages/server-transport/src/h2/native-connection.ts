import type { IncomingHttpHeaders } from "node:http2";
import type { Socket } from "node:net";
import {
  ACK_FLAG,
  CLIENT_PREFACE,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  ErrorCode,
  Flag,
  FRAME_HEADER_BYTES,
  FrameType,
  goawayFrame,
  headerFrames,
  MAX_WINDOW,
  Setting,
  settingsFrame,
  uint32Frame,
  writeFrameHeader,
  frame,
} from "./frames";
import { HpackDecoder, HpackError, type HeaderFields } from "./hpack-decoder";
export type { HeaderFields } from "./hpack-decoder";
import { NativeStream, STREAM_HIGH_WATER_MARK, type StreamConnection, type StreamState } from "./native-stream";

/** Called for each new request stream with its decoded headers. */
export type NativeStreamListener = (stream: NativeStream, headers: IncomingHttpHeaders) => void;

/** Options of a `NativeConnection`. */
export interface NativeConnectionOptions {
  /** Gets every new request stream. */
  readonly onStream: NativeStreamListener;
  /** SETTINGS_MAX_CONCURRENT_STREAMS to advertise and enforce; default none. */
  readonly maxConcurrentStreams?: number;
  /** Called once when the connection is closed. */
  readonly onClose?: () => void;
  /** Takes the requests it recognises as lean unary calls before `onStream` sees them. */
  readonly unary?: UnaryRouter;
}

/** A lean call opened by a `UnaryRouter`: the connection starts it once it is registered. */
export interface UnaryCallState extends StreamState {
  start(): void;
}

/** What a lean unary call needs of its connection. */
export interface UnaryConnection extends StreamConnection {
  /** Queues frames for the socket. */
  send(bytes: Buffer): void;
  /** Takes `bytes` of both send windows of `stream` if both have them; false (nothing taken) otherwise. */
  takeWindow(stream: StreamState, bytes: number): boolean;
  /** The peer's SETTINGS_MAX_FRAME_SIZE. */
  readonly maxFrameSize: number;
}

/** Recognises requests served as lean unary calls. */
export interface UnaryRouter {
  /** A call for a request with these header fields, or undefined to hand the stream to `onStream`. */
  open(
    id: number,
    fields: HeaderFields,
    connection: UnaryConnection,
    initialWindow: number,
  ): UnaryCallState | undefined;
}

// What we advertise and enforce.
const HEADER_TABLE_SIZE = 4096;
const STREAM_RECEIVE_WINDOW = 1 << 20;
const CONNECTION_RECEIVE_WINDOW = 16 << 20;
const MAX_HEADER_BLOCK_BYTES = 64 * 1024;
// Flush gathered frames through writev above this many bytes instead of one copy.
const CONCAT_LIMIT = 64 * 1024;

class ConnectionError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One server-side HTTP/2 connection of the native transport (RFC 9113),
 * over a plain or TLS socket whose client speaks h2 with prior knowledge or
 * negotiated it by ALPN: the preface and SETTINGS exchange, HPACK header
 * decoding, HEADERS/CONTINUATION/DATA with padding, both directions of flow
 * control (windows per stream and per connection, with SETTINGS changes),
 * PING, RST_STREAM, WINDOW_UPDATE and GOAWAY, and connection errors answered
 * with GOAWAY. Frames written in one turn of the event loop go out in one
 * socket write. It serves requests only: no server push, no priorities.
 */
export class NativeConnection implements UnaryConnection {
  private readonly streams = new Map<number, StreamState>();
  private readonly decoder = new HpackDecoder(HEADER_TABLE_SIZE);
  private readonly blocked = new Set<StreamState>();
  private readonly draining = new Set<StreamState>();
  private input: Buffer | undefined;
  private prefaceSeen = false;
  private lastStreamId = 0;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  private sendWindow = DEFAULT_WINDOW;
  private receivedUnacked = 0;
  // A header block being assembled from HEADERS + CONTINUATION.
  private headerStream = 0;
  private headerFlags = 0;
  private headerParts: Buffer[] = [];
  private headerBytes = 0;
  private out: Buffer[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  private goingAway = false;
  private dead = false;
  socketWritable = true;

  constructor(
    readonly socket: Socket,
    private readonly options: NativeConnectionOptions,
  ) {
    socket.setNoDelay(true);
    const settings: [Setting, number][] = [
      [Setting.INITIAL_WINDOW_SIZE, STREAM_RECEIVE_WINDOW],
      [Setting.MAX_HEADER_LIST_SIZE, MAX_HEADER_BLOCK_BYTES],
    ];
    if (options.maxConcurrentStreams !== undefined) {
      settings.push([Setting.MAX_CONCURRENT_STREAMS, options.maxConcurrentStreams]);
    }
    this.queue(settingsFrame(settings));
    this.queue(uint32Frame(FrameType.WINDOW_UPDATE, 0, CONNECTION_RECEIVE_WINDOW - DEFAULT_WINDOW));
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("drain", () => this.socketDrained());
    socket.on("error", () => undefined); // 'close' follows
    socket.on("close", () => this.closed());
    socket.on("end", () => {
      if (!this.dead) socket.end();
    });
  }

  /** Open streams. */
  get streamCount(): number {
    return this.streams.size;
  }

  /**
   * Starts a graceful close: GOAWAY with the last stream taken; later streams
   * are refused; the connection ends when its open streams have.
   */
  goAway(): void {
    if (this.goingAway || this.dead) return;
    this.goingAway = true;
    this.queue(goawayFrame(this.lastStreamId, ErrorCode.NO_ERROR));
    this.endIfIdle();
  }

  /** Closes at once: open streams end with CANCEL. */
  destroy(): void {
    if (this.dead) return;
    this.socket.destroy();
    this.closed();
  }

  // ---- UnaryConnection ---

  send(bytes: Buffer): void {
    this.queue(bytes);
  }

  takeWindow(stream: StreamState, bytes: number): boolean {
    if (bytes > stream.sendWindow || bytes > this.sendWindow) return false;
    stream.sendWindow -= bytes;
    this.sendWindow -= bytes;
    return true;
  }

  get maxFrameSize(): number {
    return this.peerMaxFrameSize;
  }

  // ---- StreamConnection -------------------------------------------------

  sendHeaders(streamId: number, block: Buffer, endStream: boolean): void {
    this.queue(headerFrames(streamId, block, endStream, this.peerMaxFrameSize));
  }

  sendReset(streamId: number, code: ErrorCode): void {
    this.queue(uint32Frame(FrameType.RST_STREAM, streamId, code));
  }

  sendEndOfData(streamId: number): void {
    this.queue(frame(FrameType.DATA, Flag.END_STREAM, streamId));
  }

  pump(stream: StreamState): void {
    while (stream.pending.length > 0 && !stream.closed) {
      const window = Math.min(stream.sendWindow, this.sendWindow);
      if (window <= 0) {
        this.blocked.add(stream); // until a WINDOW_UPDATE
        return;
      }
      const chunk = stream.pending[0] as Buffer;
      const left = chunk.length - stream.pendingOffset;
      const size = Math.min(left, window, this.peerMaxFrameSize);
      const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
      writeFrameHeader(header, 0, size, FrameType.DATA, 0, stream.id);
      this.queue(header);
      this.queue(chunk.subarray(stream.pendingOffset, stream.pendingOffset + size));
      stream.sendWindow -= size;
      this.sendWindow -= size;
      stream.pendingBytes -= size;
      if (size === left) {
        stream.pending.shift();
        const callback = stream.pendingCallbacks.shift();
        stream.pendingOffset = 0;
        if (callback !== undefined) process.nextTick(callback);
      } else {
        stream.pendingOffset += size;
      }
    }
    this.blocked.delete(stream);
    stream.dataDrained();
    if (this.draining.has(stream)) this.maybeDrain(stream);
  }

  release(stream: StreamState): void {
    this.streams.delete(stream.id);
    this.blocked.delete(stream);
    this.draining.delete(stream);
    this.endIfIdle();
  }

  wantDrain(stream: StreamState): void {
    this.draining.add(stream);
  }

  // ---- output -------------------------------------------------------------

  private queue(bytes: Buffer): void {
    if (this.dead) return;
    this.out.push(bytes);
    this.outBytes += bytes.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.dead || this.out.length === 0) return;
    const out = this.out;
    const bytes = this.outBytes;
    this.out = [];
    this.outBytes = 0;
    let ok: boolean;
    if (out.length === 1) {
      ok = this.socket.write(out[0] as Buffer);
    } else if (bytes <= CONCAT_LIMIT) {
      ok = this.socket.write(Buffer.concat(out, bytes));
    } else {
      this.socket.cork();
      ok = true;
      for (const part of out) ok = this.socket.write(part) && ok;
      this.socket.uncork();
    }
    if (!ok) this.socketWritable = false;
  }

  private socketDrained(): void {
    this.socketWritable = true;
    for (const stream of this.draining) this.maybeDrain(stream);
  }

  private maybeDrain(stream: StreamState): void {
    if (!this.socketWritable || stream.pendingBytes >= STREAM_HIGH_WATER_MARK) return;
    this.draining.delete(stream);
    if (!stream.closed) stream.drained();
  }

  // ---- input --------------------------------------------------------------

  private receive(chunk: Buffer): void {
    if (this.dead) return;
    let data = this.input === undefined ? chunk : Buffer.concat([this.input, chunk]);
    this.input = undefined;
    try {
      if (!this.prefaceSeen) {
        if (data.length < CLIENT_PREFACE.length) {
          if (!CLIENT_PREFACE.subarray(0, data.length).equals(data)) throw new Error("bad preface");
          this.input = data;
          return;
        }
        if (!CLIENT_PREFACE.equals(data.subarray(0, CLIENT_PREFACE.length))) throw new Error("bad preface");
        this.prefaceSeen = true;
        data = data.subarray(CLIENT_PREFACE.length);
      }
      let at = 0;
      while (data.length - at >= FRAME_HEADER_BYTES && !this.dead) {
        const length = ((data[at] as number) << 16) | ((data[at + 1] as number) << 8) | (data[at + 2] as number);
        if (length > DEFAULT_MAX_FRAME_SIZE) {
          throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `frame of ${length} bytes`);
        }
        if (data.length - at < FRAME_HEADER_BYTES + length) break;
        const type = data[at + 3] as number;
        const flags = data[at + 4] as number;
        const streamId = data.readUInt32BE(at + 5) & 0x7fffffff;
        const payload = data.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length);
        at += FRAME_HEADER_BYTES + length;
        this.onFrame(type, flags, streamId, payload);
      }
      if (at < data.length && !this.dead) this.input = data.subarray(at);
    } catch (err) {
      if (err instanceof ConnectionError) this.fail(err.code, err.message);
      else if (err instanceof HpackError) this.fail(ErrorCode.COMPRESSION_ERROR, err.message);
      else if (err instanceof Error && err.message === "bad preface") this.destroy();
      else throw err;
    }
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.headerStream !== 0 && type !== FrameType.CONTINUATION) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "expected CONTINUATION");
    }
    switch (type) {
      case FrameType.DATA:
        this.onData(flags, streamId, payload);
        break;
      case FrameType.HEADERS:
        this.onHeaders(flags, streamId, payload);
        break;
      case FrameType.CONTINUATION:
        if (this.headerStream === 0 || streamId !== this.headerStream) {
          throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "unexpected CONTINUATION");
        }
        this.addHeaderPart(payload);
        if (flags & Flag.END_HEADERS) this.endHeaderBlock();
        break;
      case FrameType.PRIORITY:
        this.onPriority(streamId, payload);
        break;
      case FrameType.RST_STREAM:
        if (streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "RST_STREAM on stream 0");
        if (payload.length !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "RST_STREAM length");
        if (streamId > this.lastStreamId)
          throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "RST_STREAM on an idle stream");
        this.streams.get(streamId)?.receiveReset(payload.readUInt32BE(0));
        break;
      case FrameType.SETTINGS:
        this.onSettings(flags, streamId, payload);
        break;
      case FrameType.PING:
        if (streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "PING on a stream");
        if (payload.length !== 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "PING length");
        if ((flags & ACK_FLAG) === 0) this.queue(frame(FrameType.PING, ACK_FLAG, 0, payload));
        break;
      case FrameType.GOAWAY:
        if (streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "GOAWAY on a stream");
        if (payload.length < 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "GOAWAY length");
        this.goAway();
        break;
      case FrameType.WINDOW_UPDATE:
        this.onWindowUpdate(streamId, payload);
        break;
      case FrameType.PUSH_PROMISE:
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "PUSH_PROMISE from a client");
      default:
        break; // unknown frame types are ignored (RFC 9113 5.5)
    }
  }

  private onData(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "DATA on stream 0");
    if (streamId > this.lastStreamId) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "DATA on an idle stream");
    this.receivedUnacked += payload.length;
    if (this.receivedUnacked >= CONNECTION_RECEIVE_WINDOW / 2) {
      this.queue(uint32Frame(FrameType.WINDOW_UPDATE, 0, this.receivedUnacked));
      this.receivedUnacked = 0;
    }
    const data = flags & Flag.PADDED ? unpad(payload) : payload;
    const stream = this.streams.get(streamId);
    if (stream === undefined || stream.remoteEnded) return;
    const endStream = (flags & Flag.END_STREAM) !== 0;
    stream.receivedUnacked += payload.length;
    if (!endStream && stream.receivedUnacked >= STREAM_RECEIVE_WINDOW / 2) {
      this.queue(uint32Frame(FrameType.WINDOW_UPDATE, streamId, stream.receivedUnacked));
      stream.receivedUnacked = 0;
    }
    stream.receiveData(data);
    if (endStream) stream.receiveEnd();
  }

  private onHeaders(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0 || streamId % 2 === 0) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on stream ${streamId}`);
    }
    let block = flags & Flag.PADDED ? unpad(payload) : payload;
    if (flags & Flag.PRIORITY) {
      if (block.length < 5) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "short HEADERS priority");
      block = block.subarray(5);
    }
    this.headerStream = streamId;
    this.headerFlags = flags;
    this.headerParts = [];
    this.headerBytes = 0;
    this.addHeaderPart(block);
    if (flags & Flag.END_HEADERS) this.endHeaderBlock();
  }

  private addHeaderPart(part: Buffer): void {
    this.headerBytes += part.length;
    if (this.headerBytes > MAX_HEADER_BLOCK_BYTES) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "header block too large");
    }
    this.headerParts.push(part);
  }

  private endHeaderBlock(): void {
    const streamId = this.headerStream;
    const endStream = (this.headerFlags & Flag.END_STREAM) !== 0;
    const parts = this.headerParts;
    this.headerStream = 0;
    this.headerParts = [];
    const block = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    const fields = this.decoder.decode(block); // always, to keep the HPACK state in step
    const existing = this.streams.get(streamId);
    if (existing !== undefined) {
      // Trailers of a request: they must end it.
      if (!endStream) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "HEADERS without END_STREAM");
      existing.receiveEnd();
      return;
    }
    if (streamId <= this.lastStreamId) {
      // Trailers still in flight for a stream we already ended are dropped; a new request on an old id is an error.
      if (endStream) return;
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on closed stream ${streamId}`);
    }
    this.lastStreamId = streamId;
    const limit = this.options.maxConcurrentStreams;
    if (this.goingAway || (limit !== undefined && this.streams.size >= limit)) {
      this.sendReset(streamId, ErrorCode.REFUSED_STREAM);
      return;
    }
    const call = this.options.unary?.open(streamId, fields, this, this.peerInitialWindow);
    if (call !== undefined) {
      this.streams.set(streamId, call);
      call.start();
      if (endStream) call.receiveEnd();
      return;
    }
    const headers = toHeaders(fields);
    if (headers === undefined) {
      this.sendReset(streamId, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    const stream = new NativeStream(streamId, this, this.peerInitialWindow);
    this.streams.set(streamId, stream);
    this.options.onStream(stream, headers);
    if (endStream) stream.receiveEnd();
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "SETTINGS on a stream");
    if (flags & ACK_FLAG) {
      if (payload.length !== 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS ACK with a payload");
      return;
    }
    if (payload.length % 6 !== 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS length");
    for (let at = 0; at < payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      if (id === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE");
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const stream of this.streams.values()) {
          stream.sendWindow += delta;
          if (stream.sendWindow > MAX_WINDOW) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "window");
        }
      } else if (id === Setting.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME_SIZE || value > 0xffffff) {
          throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "MAX_FRAME_SIZE");
        }
        this.peerMaxFrameSize = value;
      } else if (id === Setting.ENABLE_PUSH && value > 1) {
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "ENABLE_PUSH");
      }
    }
    this.queue(frame(FrameType.SETTINGS, ACK_FLAG, 0));
    for (const stream of [...this.streams.values()]) if (stream.pending.length > 0) this.pump(stream);
  }

  // Priorities are not acted on (RFC 9113 5.3.2), but a malformed PRIORITY still ends its stream.
  private onPriority(streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "PRIORITY on stream 0");
    const stream = this.streams.get(streamId);
    if (payload.length !== 5) {
      if (stream !== undefined) this.resetStream(stream, ErrorCode.FRAME_SIZE_ERROR);
      return;
    }
    if ((payload.readUInt32BE(0) & 0x7fffffff) === streamId && stream !== undefined) {
      this.resetStream(stream, ErrorCode.PROTOCOL_ERROR); // a stream cannot depend on itself
    }
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "WINDOW_UPDATE length");
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (increment === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
      this.sendWindow += increment;
      if (this.sendWindow > MAX_WINDOW) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "window overflow");
      for (const stream of [...this.blocked]) this.pump(stream);
      return;
    }
    if (streamId > this.lastStreamId) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream");
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    if (increment === 0) {
      this.resetStream(stream, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW) {
      this.resetStream(stream, ErrorCode.FLOW_CONTROL_ERROR);
      return;
    }
    this.pump(stream);
  }

  private resetStream(stream: StreamState, code: ErrorCode): void {
    this.sendReset(stream.id, code);
    stream.receiveReset(code);
  }

  // ---- ending ---------------------------------------------------------------

  private fail(code: ErrorCode, reason: string): void {
    if (this.dead) return;
    this.queue(goawayFrame(this.lastStreamId, code, reason));
    this.flush();
    this.socket.end();
    this.closed();
  }

  private endIfIdle(): void {
    if (this.goingAway && this.streams.size === 0 && !this.dead) {
      this.flush();
      this.dead = true;
      this.socket.end();
      this.options.onClose?.();
    }
  }

  private closed(): void {
    const wasDead = this.dead;
    this.dead = true;
    this.out = [];
    for (const stream of [...this.streams.values()]) stream.receiveReset(ErrorCode.CANCEL);
    this.streams.clear();
    if (!wasDead) this.options.onClose?.();
  }
}

// The payload of a PADDED frame without its padding.
function unpad(payload: Buffer): Buffer {
  if (payload.length < 1) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "PADDED frame without pad length");
  const padLength = payload[0] as number;
  if (padLength >= payload.length) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "padding too long");
  return payload.subarray(1, payload.length - padLength);
}

/**
 * Header fields as Node's http2 gives them (repeated names as arrays);
 * undefined for a request without :method or :path, or with a malformed
 * field name.
 */
export function toHeaders(fields: HeaderFields): IncomingHttpHeaders | undefined {
  const headers: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] as string;
    const value = fields[i + 1] as string;
    if (name.length === 0 || name !== name.toLowerCase()) return undefined;
    const seen = headers[name];
    if (seen === undefined) headers[name] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else headers[name] = [seen, value];
  }
  if (headers[":method"] === undefined || headers[":path"] === undefined) return undefined;
  return headers as IncomingHttpHeaders;
}

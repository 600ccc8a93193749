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
import { tableSizeUpdate, type AnswerBlocks } from "./hpack-encoder";
import { NativeStream, STREAM_HIGH_WATER_MARK, type StreamConnection, type StreamState } from "./native-stream";
import { checkTrailerFields, RequestFieldsChecker } from "./request-validation";
import type { TransportLimitName, TransportLimits } from "../limits";
import type { TransportCounters } from "../transport-stats";

/** Called for each new request stream with its decoded headers. */
export type NativeStreamListener = (stream: NativeStream, headers: IncomingHttpHeaders) => void;

/** Options of a `NativeConnection`. */
export interface NativeConnectionOptions {
  /** Gets every new request stream. */
  readonly onStream: NativeStreamListener;
  /** What a client may take of the connection. */
  readonly limits: TransportLimits;
  /** Where the connection counts what it sent and refused. */
  readonly counters: TransportCounters;
  /** Called once when the connection is closed. */
  readonly onClose?: () => void;
  /**
   * Called when a DATA frame took `counters.heldRequestBytes` over
   * `limits.maxHeldRequestBytes`, once the frame is handled: the server sheds
   * the connections holding the most (see `heldBytes`, `shed`).
   */
  readonly onOverBudget?: () => void;
  /** Takes the requests it recognises as native unary calls before `onStream` sees them. */
  readonly unary?: UnaryRouter;
}

/** A native unary call opened by a `UnaryRouter`: the connection starts it once it is registered. */
export interface UnaryCallState extends StreamState {
  start(): void;
  /** Arms the call's deadline timer if it has a deadline and is still open (see `deferDeadline`). */
  armDeadline(): void;
}

/** What a native unary call needs of its connection. */
export interface UnaryConnection extends StreamConnection {
  /** Queues frames for the socket. */
  send(bytes: Buffer): void;
  /** Takes `bytes` of both send windows of `stream` if both have them; false (nothing taken) otherwise. */
  takeWindow(stream: StreamState, bytes: number): boolean;
  /** The peer's SETTINGS_MAX_FRAME_SIZE. */
  readonly maxFrameSize: number;
  /** True while the next header block must open with a dynamic table size update: send it with `sendHeaders`. */
  readonly tableSizeUpdatePending: boolean;
  /**
   * The blocks of an answer of `blocks`' kind for this connection's peer: inserting (first time), indexed
   * (its entries are in the peer's table) or plain. Only while no table size update is pending, for blocks
   * queued at once, in this order.
   */
  answerBlocks(blocks: AnswerBlocks): readonly [Buffer, Buffer];
  /** Calls `call.armDeadline()` once the bytes being read now are handled (before any timer can fire). */
  deferDeadline(call: UnaryCallState): void;
  /** Counts a refusal by `limit` (e.g. a message too large, seen at its length prefix). */
  noteLimitHit(limit: TransportLimitName): void;
  /** `bytes` of the call's request were taken: its stream window gets them back (the connection's does not yet). */
  streamConsumed(stream: StreamState, bytes: number): void;
  /** `bytes` of request data held by a call were let go of: the connection window gets them back. */
  connectionConsumed(bytes: number): void;
}

/** Recognises requests served as native unary calls. */
export interface UnaryRouter {
  /** A call for a request with these header fields, or undefined to hand the stream to `onStream`. */
  open(
    id: number,
    fields: HeaderFields,
    connection: UnaryConnection,
    initialWindow: number,
  ): UnaryCallState | undefined;
}

// The HPACK dynamic table size we decode with, and the most we encode with (we only add the fields of the
// constant OK answer, `AnswerBlocks`).
const HEADER_TABLE_SIZE = 4096;
// A connection that has sent GOAWAY and ended its side is destroyed if the peer has not closed by then.
const CLOSE_GRACE_MS = 1000;
// Entries in one SETTINGS frame (as nghttp2 and Node's http2: 32); each may touch every open stream.
const MAX_SETTINGS_ENTRIES = 32;
// The PING payload of keepalive.
const KEEPALIVE_PAYLOAD = Buffer.from("keepaliv", "latin1");
// Streams remembered as closed by us (`endedByUs`) or reset by the client (`resetByClient`); older ones are forgotten.
const ENDED_BY_US_KEPT = 1024;
// Ranges of stream ids the client skipped (never opened) that are remembered; older ones are forgotten.
const SKIPPED_RANGES_KEPT = 32;
// Flush gathered frames through writev above this many bytes instead of one copy.
const CONCAT_LIMIT = 64 * 1024;
// While one read's frames are being handled, gathered output goes to the socket once it holds this many parts
// (e.g. four unary answers) instead of after the whole read: the peer starts on the first answers while we handle
// the rest, rather than the two sides taking turns.
const EARLY_FLUSH_PARTS = 4;

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
  private readonly requestChecker = new RequestFieldsChecker();
  private readonly blocked = new Set<StreamState>();
  private readonly draining = new Set<StreamState>();
  // Streams we closed before the client ended its side (answered early, reset or refused), newest last, each with
  // the bytes the client may still have had in flight (its window then): DATA still in flight on them is ignored
  // (RFC 9113 5.1, 8.1), and counts as a frame that did no work only past that window; on any other closed
  // stream it is an error.
  private readonly endedByUs = new Map<number, number>();
  // Streams the client reset, newest last: a header block on one is a stream error STREAM_CLOSED (RFC 9113 5.1).
  private readonly resetByClient = new Set<number>();
  // Stream ids the client skipped when it opened a higher one, as [first, last] pairs, newest last: they were never
  // opened, so a header block on one is an unexpected stream id (RFC 9113 5.1.1), not a closed stream's.
  private skippedIds: number[] = [];
  // Bytes still expected on streams whose request declared a content-length.
  private readonly contentLengths = new Map<number, number>();
  private readonly limits: TransportLimits;
  private readonly counters: TransportCounters;
  private input: Buffer | undefined;
  private prefaceSeen = false;
  private settingsSeen = false;
  private lastStreamId = 0;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  private sendWindow = DEFAULT_WINDOW;
  // Receive flow control of the connection: what the peer may still send, and what was consumed since our last update.
  private receiveWindow: number;
  private receivedUnacked = 0;
  // Request bytes received and not yet consumed (DATA payloads, padding included until it is given back at once),
  // also summed over the server in `counters.heldRequestBytes`; let go of when the connection closes.
  private held = 0;
  // A header block being assembled from HEADERS + CONTINUATION.
  private headerStream = 0;
  private headerFlags = 0;
  private headerParts: Buffer[] = [];
  private headerBytes = 0;
  private headerContinuations = 0;
  private headerSelfDependent = false;
  // RFC 7541 4.2: table size updates owed to the peer's decoder (smallest, then last), and the size it last heard.
  private encoderTableSize = HEADER_TABLE_SIZE;
  private tableSizeLeast: number | undefined;
  // The answer kind whose entries are the newest in the peer's dynamic table (the only entries we add).
  private tableHolds: AnswerBlocks | undefined;
  // Rate limits: the start of the current window and the counts in it.
  private rateWindowStart = 0;
  private resetCount = 0;
  private pingCount = 0;
  private settingsCount = 0;
  private emptyFrameCount = 0;
  // WINDOW_UPDATE frames the client may send for the DATA we sent (two per DATA frame) before they count as empty.
  private windowUpdateCredit = 0;
  private settingsAcked = false;
  private peerWentAway = false;
  // Timers, driven by `checkTimers`.
  private acceptedAt: number;
  private idleSince: number;
  private lastReadAt: number;
  private readSinceCheck = false;
  private openedSinceCheck = false;
  private keepaliveSentAt: number | undefined;
  // Calls started in this read whose deadline timers are armed at its end, if they are still open.
  private deadlineCalls: UnaryCallState[] = [];
  private out: Buffer[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  private goingAway = false;
  private dead = false;
  socketWritable = true;

  constructor(
    readonly socket: Socket,
    private readonly options: NativeConnectionOptions,
    now: number = Date.now(),
  ) {
    this.limits = options.limits;
    this.counters = options.counters;
    this.acceptedAt = this.idleSince = this.lastReadAt = now;
    this.receiveWindow = this.limits.connectionWindowBytes;
    socket.setNoDelay(true);
    this.queue(
      settingsFrame([
        [Setting.MAX_CONCURRENT_STREAMS, this.limits.maxConcurrentStreams],
        [Setting.INITIAL_WINDOW_SIZE, this.limits.streamWindowBytes],
        [Setting.MAX_HEADER_LIST_SIZE, this.limits.maxHeaderListBytes],
      ]),
    );
    if (this.receiveWindow > DEFAULT_WINDOW) {
      this.queue(uint32Frame(FrameType.WINDOW_UPDATE, 0, this.receiveWindow - DEFAULT_WINDOW));
    } else {
      this.receiveWindow = DEFAULT_WINDOW; // a connection window can only grow from its initial 65,535
    }
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("drain", () => this.socketDrained());
    socket.on("error", () => undefined); // 'close' follows
    socket.on("close", () => this.closed());
    socket.on("end", () => {
      if (!this.dead) socket.end();
    });
  }

  /**
   * Checks the connection's timers at time `now` (ms): the preface timeout,
   * the idle timeout, keepalive PINGs and their timeout. The server calls it
   * for every connection a few times per shortest timeout.
   */
  checkTimers(now: number): void {
    if (this.dead) return;
    const limits = this.limits;
    if (!this.settingsSeen) {
      if (now - this.acceptedAt >= limits.prefaceTimeoutMs) {
        this.noteLimitHit("prefaceTimeout");
        this.fail(ErrorCode.PROTOCOL_ERROR, "no preface and SETTINGS in time");
      }
      return;
    }
    if (this.readSinceCheck) {
      this.readSinceCheck = false;
      this.lastReadAt = now;
    }
    if (this.streams.size > 0 || this.openedSinceCheck) {
      this.openedSinceCheck = false;
      this.idleSince = now;
    } else if (limits.idleTimeoutMs > 0 && now - this.idleSince >= limits.idleTimeoutMs) {
      this.noteLimitHit("idleTimeout");
      this.goAway();
      return;
    }
    if (this.keepaliveSentAt !== undefined) {
      if (now - this.keepaliveSentAt >= limits.keepaliveTimeoutMs) {
        this.noteLimitHit("keepaliveTimeout");
        this.destroy();
      }
    } else if (limits.keepaliveIntervalMs > 0 && now - this.lastReadAt >= limits.keepaliveIntervalMs) {
      this.keepaliveSentAt = now;
      this.queue(frame(FrameType.PING, 0, 0, KEEPALIVE_PAYLOAD));
    }
  }

  /** Open streams. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Request bytes received and not yet consumed (handed to a handler, forwarded or dropped); 0 once closed. */
  get heldBytes(): number {
    return this.held;
  }

  /** True once the client's preface and first SETTINGS came: the connection speaks HTTP/2. */
  get started(): boolean {
    return this.settingsSeen;
  }

  /** Ends the connection at once with GOAWAY ENHANCE_YOUR_CALM (to make room for another: see `NativeServer`). */
  shed(reason: string): void {
    this.fail(ErrorCode.ENHANCE_YOUR_CALM, reason);
  }

  /**
   * Starts a graceful close: GOAWAY with the last stream taken; later streams
   * are refused; the connection ends when its open streams have.
   */
  goAway(): void {
    if (this.goingAway || this.dead) return;
    this.goingAway = true;
    this.queueGoaway(ErrorCode.NO_ERROR);
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
    this.windowUpdateCredit += 2;
    return true;
  }

  get maxFrameSize(): number {
    return this.peerMaxFrameSize;
  }

  get tableSizeUpdatePending(): boolean {
    return this.tableSizeLeast !== undefined;
  }

  answerBlocks(blocks: AnswerBlocks): readonly [Buffer, Buffer] {
    if (this.tableHolds === blocks) return blocks.indexed;
    if (this.tableSizeLeast !== undefined || this.encoderTableSize < blocks.tableBytes) return blocks.plain;
    // Added after anything already there: the peer evicts oldest first, and the table holds all of them.
    this.tableHolds = blocks;
    return blocks.inserting;
  }

  noteLimitHit(limit: TransportLimitName): void {
    this.counters.limitHit(limit);
  }

  deferDeadline(call: UnaryCallState): void {
    this.deadlineCalls.push(call);
  }

  // Arms the deadline timers of the calls started in this read that are still open.
  private armDeadlines(): void {
    const calls = this.deadlineCalls;
    if (calls.length === 0) return;
    this.deadlineCalls = [];
    for (const call of calls) call.armDeadline();
  }

  // ---- StreamConnection -------------------------------------------------

  sendHeaders(streamId: number, block: Buffer, endStream: boolean): void {
    const least = this.tableSizeLeast;
    if (least !== undefined) {
      // RFC 7541 4.2: the first block after a change of the peer's SETTINGS_HEADER_TABLE_SIZE says so.
      this.tableSizeLeast = undefined;
      // A table that shrank below our entries may have lost some: they are added again by a later answer.
      if (this.tableHolds !== undefined && least < this.tableHolds.tableBytes) this.tableHolds = undefined;
      const updates = [tableSizeUpdate(least)];
      if (least !== this.encoderTableSize) updates.push(tableSizeUpdate(this.encoderTableSize));
      block = Buffer.concat([...updates, block]);
    }
    this.queue(headerFrames(streamId, block, endStream, this.peerMaxFrameSize));
  }

  sendReset(streamId: number, code: ErrorCode): void {
    this.counters.resetSent(code);
    this.queue(uint32Frame(FrameType.RST_STREAM, streamId, code));
  }

  sendEndOfData(streamId: number): void {
    this.queue(frame(FrameType.DATA, Flag.END_STREAM, streamId));
  }

  pump(stream: StreamState): void {
    while (stream.pending.length > 0 && !stream.closed) {
      if (!this.socketWritable || this.outBytes + this.socket.writableLength >= this.limits.maxQueuedBytes / 4) {
        this.congested();
        this.blocked.add(stream); // until the socket drains
        return;
      }
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
      this.windowUpdateCredit += 2;
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
    if (!stream.remoteEnded) this.noteEndedByUs(stream.id, stream.receiveWindow);
    if (this.contentLengths.size > 0) this.contentLengths.delete(stream.id);
    this.blocked.delete(stream);
    this.draining.delete(stream);
    this.endIfIdle();
  }

  wantDrain(stream: StreamState): void {
    this.draining.add(stream);
  }

  consumed(stream: StreamState, bytes: number): void {
    this.consumedByConnection(bytes);
    this.streamConsumed(stream, bytes);
  }

  connectionConsumed(bytes: number): void {
    this.consumedByConnection(bytes);
  }

  streamConsumed(stream: StreamState, bytes: number): void {
    if (stream.closed || stream.remoteEnded || bytes === 0) return;
    stream.receivedUnacked += bytes;
    if (stream.receivedUnacked >= this.limits.streamWindowBytes / 2) {
      this.queue(uint32Frame(FrameType.WINDOW_UPDATE, stream.id, stream.receivedUnacked));
      stream.receiveWindow += stream.receivedUnacked;
      stream.receivedUnacked = 0;
    }
  }

  // `bytes` of DATA were consumed (or dropped): the connection window gets them back. Once the connection is
  // closed, what it held was let go of at once (`letGoOfHeld`): later consumption concerns nobody.
  private consumedByConnection(bytes: number): void {
    if (this.dead) return;
    this.held -= bytes;
    this.counters.heldRequestBytes -= bytes;
    this.receivedUnacked += bytes;
    if (this.receivedUnacked >= this.limits.connectionWindowBytes / 2) {
      this.queue(uint32Frame(FrameType.WINDOW_UPDATE, 0, this.receivedUnacked));
      this.receiveWindow += this.receivedUnacked;
      this.receivedUnacked = 0;
    }
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
    const socket = this.socket;
    if (out.length === 1) {
      socket.write(out[0] as Buffer);
    } else if (bytes <= CONCAT_LIMIT) {
      socket.write(Buffer.concat(out, bytes));
    } else {
      socket.cork();
      for (const part of out) socket.write(part);
      socket.uncork();
    }
    const queued = socket.writableLength;
    if (queued < this.limits.maxQueuedBytes / 4) {
      // Congested before this write, but the socket took it at once: no 'drain' will come.
      if (!this.socketWritable) process.nextTick(() => this.socketDrained());
      return;
    }
    if (queued > this.limits.maxQueuedBytes) {
      // The peer does not read: no point in waiting for it.
      this.noteLimitHit("queuedBytes");
      this.counters.goawaySent(ErrorCode.ENHANCE_YOUR_CALM);
      socket.write(goawayFrame(this.lastStreamId, ErrorCode.ENHANCE_YOUR_CALM, "not reading"));
      this.destroy();
      return;
    }
    this.congested();
  }

  // Until the socket drains, read no requests and send no stream data.
  private congested(): void {
    if (!this.socketWritable) return;
    this.socketWritable = false;
    this.socket.pause();
  }

  private socketDrained(): void {
    if (this.dead || this.socketWritable) return;
    this.socketWritable = true;
    this.socket.resume();
    for (const stream of [...this.blocked]) this.pump(stream);
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
    this.readSinceCheck = true;
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
        if (this.out.length >= EARLY_FLUSH_PARTS && !this.dead) this.flush();
      }
      if (at < data.length && !this.dead) this.input = data.subarray(at);
    } catch (err) {
      if (err instanceof ConnectionError) this.fail(err.code, err.message);
      else if (err instanceof HpackError) this.fail(ErrorCode.COMPRESSION_ERROR, err.message);
      else if (err instanceof Error && err.message === "bad preface") this.destroy();
      else throw err;
    } finally {
      this.armDeadlines();
    }
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.headerStream !== 0 && type !== FrameType.CONTINUATION) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "expected CONTINUATION");
    }
    if (!this.settingsSeen) {
      // The preface ends with a SETTINGS frame (RFC 9113 3.4).
      if (type !== FrameType.SETTINGS || flags & ACK_FLAG) {
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "first frame not SETTINGS");
      }
      this.settingsSeen = true;
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
        if (++this.headerContinuations > this.limits.maxContinuationFrames) {
          this.noteLimitHit("continuationFrames");
          throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "too many CONTINUATION frames");
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
        if (streamId > this.lastStreamId || (streamId & 1) === 0) {
          // Even ids are the server's, and we reserve none: such a stream is idle (RFC 9113 5.1, 5.1.1).
          throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "RST_STREAM on an idle stream");
        }
        this.countReset();
        this.streams.get(streamId)?.receiveReset(payload.readUInt32BE(0));
        this.endedByUs.delete(streamId); // the client's own reset: nothing of it should follow
        this.remember(this.resetByClient, streamId);
        break;
      case FrameType.SETTINGS:
        this.onSettings(flags, streamId, payload);
        break;
      case FrameType.PING:
        if (streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "PING on a stream");
        if (payload.length !== 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "PING length");
        if (flags & ACK_FLAG) {
          if (this.keepaliveSentAt !== undefined && payload.equals(KEEPALIVE_PAYLOAD)) this.keepaliveSentAt = undefined;
          else this.countEmptyFrame(); // an ACK of no PING of ours
          break;
        }
        this.rollRateWindow();
        if (++this.pingCount > this.limits.maxPingsPerWindow) {
          this.noteLimitHit("pings");
          throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "too many PINGs");
        }
        this.queue(frame(FrameType.PING, ACK_FLAG, 0, payload));
        break;
      case FrameType.GOAWAY:
        if (streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "GOAWAY on a stream");
        if (payload.length < 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "GOAWAY length");
        if (this.peerWentAway) this.countEmptyFrame(); // the first one said it all
        this.peerWentAway = true;
        this.goAway();
        break;
      case FrameType.WINDOW_UPDATE:
        this.onWindowUpdate(streamId, payload);
        break;
      case FrameType.PUSH_PROMISE:
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "PUSH_PROMISE from a client");
      default:
        this.countEmptyFrame(); // unknown frame types are ignored (RFC 9113 5.5), but not without end
        break;
    }
  }

  private onData(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "DATA on stream 0");
    if (streamId > this.lastStreamId || (streamId & 1) === 0) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "DATA on an idle stream"); // even ids: never reserved
    }
    const length = payload.length;
    this.receiveWindow -= length;
    if (this.receiveWindow < 0) {
      this.noteLimitHit("flowControl");
      throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "DATA beyond the connection window");
    }
    // Held until consumed: every path below gives the bytes back (`consumedByConnection`) or hands them on.
    this.held += length;
    this.counters.heldRequestBytes += length;
    const data = flags & Flag.PADDED ? unpad(payload) : payload;
    const endStream = (flags & Flag.END_STREAM) !== 0;
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      this.consumedByConnection(length); // a stream closed already: dropped
      // In flight when we closed it: ignored; after the client ended or reset it: STREAM_CLOSED (RFC 9113 6.1).
      const inFlight = this.endedByUs.get(streamId);
      if (inFlight === undefined) {
        this.countEmptyFrame();
        this.refuse(streamId, ErrorCode.STREAM_CLOSED);
      } else if (inFlight >= length && length > 0) {
        this.endedByUs.set(streamId, inFlight - length); // a client that sent it before our end did no wrong
      } else {
        this.countEmptyFrame();
      }
      return;
    }
    if (data.length === 0 && !endStream) this.countEmptyFrame();
    if (stream.remoteEnded) {
      this.consumedByConnection(length);
      this.resetStream(stream, ErrorCode.STREAM_CLOSED); // half-closed (remote), RFC 9113 5.1
      return;
    }
    stream.receiveWindow -= length;
    if (stream.receiveWindow < 0) {
      this.consumedByConnection(length);
      this.noteLimitHit("flowControl");
      this.resetStream(stream, ErrorCode.FLOW_CONTROL_ERROR);
      return;
    }
    if (this.contentLengths.size > 0 && this.contentLengths.has(streamId)) {
      const left = (this.contentLengths.get(streamId) as number) - data.length;
      this.contentLengths.set(streamId, left);
      if (left < 0 || (endStream && left !== 0)) {
        this.consumedByConnection(length);
        this.resetStream(stream, ErrorCode.PROTOCOL_ERROR); // content-length mismatch, RFC 9113 8.1.1
        return;
      }
    }
    const padding = length - data.length;
    if (padding > 0) this.consumed(stream, padding);
    stream.receiveData(data);
    if (stream.defersConsumption !== true) this.consumed(stream, data.length);
    if (endStream) stream.receiveEnd();
    if (this.counters.heldRequestBytes > this.limits.maxHeldRequestBytes) this.options.onOverBudget?.();
  }

  private onHeaders(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0 || streamId % 2 === 0) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on stream ${streamId}`);
    }
    let block = flags & Flag.PADDED ? unpad(payload) : payload;
    this.headerSelfDependent = false;
    if (flags & Flag.PRIORITY) {
      if (block.length < 5) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "short HEADERS priority");
      this.headerSelfDependent = (block.readUInt32BE(0) & 0x7fffffff) === streamId;
      block = block.subarray(5);
    }
    this.headerStream = streamId;
    this.headerFlags = flags;
    this.headerParts = [];
    this.headerBytes = 0;
    this.headerContinuations = 0;
    this.addHeaderPart(block);
    if (flags & Flag.END_HEADERS) this.endHeaderBlock();
  }

  private addHeaderPart(part: Buffer): void {
    this.headerBytes += part.length;
    // Compressed, a legal block is hardly ever longer than its decoded list; twice that is refused unread.
    if (this.headerBytes > 2 * this.limits.maxHeaderListBytes) {
      this.noteLimitHit("headerListSize");
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
    // Always decoded, to keep the HPACK state in step; undefined when over the header list limit.
    const fields = this.decoder.decode(block, this.limits.maxHeaderListBytes);
    const existing = this.streams.get(streamId);
    if (existing !== undefined) {
      this.endTrailers(existing, fields, endStream);
      return;
    }
    if (streamId <= this.lastStreamId) {
      this.closedStreamHeaders(streamId, fields, endStream);
      return;
    }
    const expected = this.lastStreamId === 0 ? 1 : this.lastStreamId + 2;
    if (streamId !== expected) this.noteSkipped(expected, streamId - 2);
    this.lastStreamId = streamId;
    this.openedSinceCheck = true;
    if (fields === undefined) {
      this.noteLimitHit("headerListSize");
      this.refuseRequest(streamId, ErrorCode.ENHANCE_YOUR_CALM);
      return;
    }
    if (this.headerSelfDependent) {
      this.refuseRequest(streamId, ErrorCode.PROTOCOL_ERROR); // a stream cannot depend on itself (RFC 9113 5.3.1)
      return;
    }
    if (this.goingAway || this.streams.size >= this.limits.maxConcurrentStreams) {
      if (!this.goingAway) this.noteLimitHit("concurrentStreams");
      this.counters.refusedStreams += 1;
      this.refuseRequest(streamId, ErrorCode.REFUSED_STREAM);
      return;
    }
    const check = this.requestChecker.check(fields);
    if (check.error !== undefined || (endStream && check.contentLength > 0)) {
      this.refuseRequest(streamId, ErrorCode.PROTOCOL_ERROR); // malformed (RFC 9113 8.1.1)
      return;
    }
    const call = this.options.unary?.open(streamId, fields, this, this.peerInitialWindow);
    if (call !== undefined) {
      call.receiveWindow = this.limits.streamWindowBytes;
      this.streams.set(streamId, call);
      if (check.contentLength >= 0) this.contentLengths.set(streamId, check.contentLength);
      call.start();
      if (endStream) call.receiveEnd();
      return;
    }
    const headers = toHeaders(fields);
    if (headers === undefined) {
      this.refuseRequest(streamId, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    const stream = new NativeStream(streamId, this, this.peerInitialWindow);
    stream.receiveWindow = this.limits.streamWindowBytes;
    this.streams.set(streamId, stream);
    if (check.contentLength >= 0) this.contentLengths.set(streamId, check.contentLength);
    this.options.onStream(stream, headers);
    if (endStream) stream.receiveEnd();
  }

  // A header block on a stream id at or below the last one opened, with no open stream.
  private closedStreamHeaders(streamId: number, fields: HeaderFields | undefined, endStream: boolean): void {
    // Trailers still in flight for a stream we already ended are dropped (and count as a frame that did no work).
    const trailers = endStream && (fields === undefined || !fields.some((f, i) => i % 2 === 0 && f.startsWith(":")));
    if (trailers && this.endedByUs.has(streamId)) {
      this.countEmptyFrame();
      return;
    }
    // An id the client skipped was never opened: an unexpected stream identifier (RFC 9113 5.1.1).
    if (this.wasSkipped(streamId)) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on closed stream ${streamId}`);
    }
    // RFC 9113 5.1, closed: "An endpoint that receives any frame other than PRIORITY after receiving a RST_STREAM
    // MUST treat that as a stream error (Section 5.4.2) of type STREAM_CLOSED. Similarly, an endpoint that
    // receives any frames after receiving a frame with the END_STREAM flag set MUST treat that as a connection
    // error (Section 5.4.1) of type STREAM_CLOSED".
    if (this.resetByClient.has(streamId)) {
      this.refuse(streamId, ErrorCode.STREAM_CLOSED);
      return;
    }
    throw new ConnectionError(ErrorCode.STREAM_CLOSED, `HEADERS on closed stream ${streamId}`);
  }

  // Remembers the odd ids `first`..`last` as skipped by the client (the oldest range is forgotten).
  private noteSkipped(first: number, last: number): void {
    const skipped = this.skippedIds;
    skipped.push(first, last);
    if (skipped.length > 2 * SKIPPED_RANGES_KEPT) skipped.splice(0, 2);
  }

  private wasSkipped(streamId: number): boolean {
    const skipped = this.skippedIds;
    for (let i = 0; i < skipped.length; i += 2) {
      if (streamId >= (skipped[i] as number) && streamId <= (skipped[i + 1] as number)) return true;
    }
    return false;
  }

  // A second header block on an open stream: trailers, which must end it and be well-formed.
  private endTrailers(stream: StreamState, fields: HeaderFields | undefined, endStream: boolean): void {
    if (!endStream) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "HEADERS without END_STREAM");
    if (stream.remoteEnded) {
      this.resetStream(stream, ErrorCode.STREAM_CLOSED);
      return;
    }
    if (fields === undefined) {
      this.noteLimitHit("headerListSize");
      this.resetStream(stream, ErrorCode.ENHANCE_YOUR_CALM);
      return;
    }
    const left = this.contentLengths.size > 0 ? this.contentLengths.get(stream.id) : undefined;
    if (this.headerSelfDependent || checkTrailerFields(fields) !== undefined || (left !== undefined && left !== 0)) {
      this.resetStream(stream, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    stream.receiveEnd();
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "SETTINGS on a stream");
    if (flags & ACK_FLAG) {
      if (payload.length !== 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS ACK with a payload");
      if (this.settingsAcked) this.countEmptyFrame(); // we send one SETTINGS frame: one ACK is owed
      this.settingsAcked = true;
      return;
    }
    if (payload.length % 6 !== 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS length");
    if (payload.length > 6 * MAX_SETTINGS_ENTRIES) {
      this.noteLimitHit("settings");
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "too many SETTINGS entries");
    }
    this.rollRateWindow();
    if (++this.settingsCount > this.limits.maxSettingsPerWindow) {
      this.noteLimitHit("settings");
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "too many SETTINGS");
    }
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
      } else if (id === Setting.HEADER_TABLE_SIZE) {
        const size = Math.min(value, HEADER_TABLE_SIZE);
        if (size !== this.encoderTableSize || this.tableSizeLeast !== undefined) {
          this.tableSizeLeast = Math.min(this.tableSizeLeast ?? size, size);
          this.encoderTableSize = size;
        }
      }
    }
    this.queue(frame(FrameType.SETTINGS, ACK_FLAG, 0));
    for (const stream of [...this.streams.values()]) if (stream.pending.length > 0) this.pump(stream);
  }

  // Priorities are not acted on (RFC 9113 5.3.2), but a malformed PRIORITY still ends its stream.
  private onPriority(streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "PRIORITY on stream 0");
    this.countEmptyFrame();
    const stream = this.streams.get(streamId);
    if (payload.length !== 5) {
      if (stream !== undefined) this.resetStream(stream, ErrorCode.FRAME_SIZE_ERROR);
      else this.refuse(streamId, ErrorCode.FRAME_SIZE_ERROR);
      return;
    }
    if ((payload.readUInt32BE(0) & 0x7fffffff) === streamId) {
      // A stream cannot depend on itself (RFC 9113 5.3.1), idle ones included.
      if (stream !== undefined) this.resetStream(stream, ErrorCode.PROTOCOL_ERROR);
      else this.refuse(streamId, ErrorCode.PROTOCOL_ERROR);
    }
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "WINDOW_UPDATE length");
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (this.windowUpdateCredit > 0) this.windowUpdateCredit -= 1;
    else this.countEmptyFrame(); // raises a window we did not use
    if (streamId === 0) {
      if (increment === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
      this.sendWindow += increment;
      if (this.sendWindow > MAX_WINDOW) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "window overflow");
      for (const stream of [...this.blocked]) this.pump(stream);
      return;
    }
    if (streamId > this.lastStreamId || (streamId & 1) === 0) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream"); // even ids: never reserved
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

  // A stream error for something the peer did: reset, counted against the reset rate (a peer that makes us
  // reset streams fast is as costly as one that resets them itself).
  private resetStream(stream: StreamState, code: ErrorCode): void {
    this.sendReset(stream.id, code);
    stream.receiveReset(code);
    this.noteEndedByUs(stream.id, stream.remoteEnded ? 0 : stream.receiveWindow);
    this.countReset();
  }

  // A stream error on a stream that is not open (refused, malformed, or idle): RST_STREAM, counted. `inFlight`:
  // the DATA the client may have sent before it learns of it (a refused request's: its stream window).
  private refuse(streamId: number, code: ErrorCode, inFlight = 0): void {
    this.sendReset(streamId, code);
    this.noteEndedByUs(streamId, inFlight);
    this.countReset();
  }

  // A refused or malformed request: the client may send a stream window of DATA before it sees the reset.
  private refuseRequest(streamId: number, code: ErrorCode): void {
    this.refuse(streamId, code, this.limits.streamWindowBytes);
  }

  // Remembers a stream we closed before the client ended it, with the DATA it may still send (the oldest
  // remembered is forgotten).
  private noteEndedByUs(streamId: number, inFlight: number): void {
    const ended = this.endedByUs;
    ended.set(streamId, Math.max(0, inFlight));
    if (ended.size > ENDED_BY_US_KEPT) ended.delete(ended.keys().next().value as number);
  }

  // Adds `streamId` to `ids`, newest last; the oldest is forgotten past ENDED_BY_US_KEPT.
  private remember(ids: Set<number>, streamId: number): void {
    ids.add(streamId);
    if (ids.size > ENDED_BY_US_KEPT) ids.delete(ids.values().next().value as number);
  }

  // Counts one stream reset; over the limit: a connection error ENHANCE_YOUR_CALM, and nothing more is dispatched.
  private countReset(): void {
    this.rollRateWindow();
    if (++this.resetCount > this.limits.maxResetsPerWindow) {
      this.noteLimitHit("resets");
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "too many stream resets");
    }
  }

  // Counts one frame that did no work; over the limit: a connection error ENHANCE_YOUR_CALM (CVE-2019-9518).
  private countEmptyFrame(): void {
    this.rollRateWindow();
    if (++this.emptyFrameCount > this.limits.maxEmptyFramesPerWindow) {
      this.noteLimitHit("emptyFrames");
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "too many frames that do no work");
    }
  }

  // Starts a new window of the rate limits when the current one is over.
  private rollRateWindow(): void {
    const now = Date.now();
    if (now - this.rateWindowStart < this.limits.rateWindowMs) return;
    this.rateWindowStart = now;
    this.resetCount = 0;
    this.pingCount = 0;
    this.settingsCount = 0;
    this.emptyFrameCount = 0;
  }

  // ---- ending ---------------------------------------------------------------

  private queueGoaway(code: ErrorCode, reason?: string): void {
    this.counters.goawaySent(code);
    this.queue(goawayFrame(this.lastStreamId, code, reason));
  }

  private fail(code: ErrorCode, reason: string): void {
    if (this.dead) return;
    this.queueGoaway(code, reason);
    this.flush();
    this.endSocket();
    this.closed();
  }

  private endIfIdle(): void {
    if (this.goingAway && this.streams.size === 0 && !this.dead) {
      this.flush();
      this.dead = true;
      this.letGoOfHeld();
      this.endSocket();
      this.options.onClose?.();
    }
  }

  // Ends our side and reads no more; a peer that does not close its side soon is cut off (a peer that keeps
  // sending cannot keep the socket open either: unread, its bytes do not count as activity).
  private endSocket(): void {
    const socket = this.socket;
    socket.end();
    socket.pause();
    socket.setTimeout(CLOSE_GRACE_MS, () => socket.destroy());
  }

  private closed(): void {
    const wasDead = this.dead;
    this.dead = true;
    this.out = [];
    for (const stream of [...this.streams.values()]) stream.receiveReset(ErrorCode.CANCEL);
    this.streams.clear();
    this.letGoOfHeld();
    if (!wasDead) this.options.onClose?.();
  }

  // The connection is closed: the request bytes it held (partial messages, unread data) count no more.
  private letGoOfHeld(): void {
    this.counters.heldRequestBytes -= this.held;
    this.held = 0;
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

import type { IncomingHttpHeaders } from "node:http2";
import { status, type Metadata, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import {
  hostOf,
  isProtoContentType,
  peerAddress,
  RESPONSE_HEADERS,
  requestMetadata,
  responseHeaders,
  statusTrailers,
  trailersOnlyHeaders,
} from "../grpc/call-context";
import { DEADLINE_EXCEEDED } from "../grpc/call-deadline";
import type { CallTracker } from "../call-observer";
import type { CallOptions } from "../grpc/call-options";
import { cutOffCode, type NativeCallStarter } from "../observed-call";
import type { NativeRoute, NativeUnaryRoute } from "../grpc/route";
import { errorToStatus, messageOf, OK_STATUS, type GrpcStatus } from "../grpc/grpc-status";
import { parseGrpcTimeout } from "../grpc/grpc-timeout";
import { grownBuffer } from "../grown-buffer";
import { ErrorCode, Flag, FRAME_HEADER_BYTES, FrameType, headerFrames, writeFrameHeader } from "./frames";
import type { HeaderFields } from "./hpack-decoder";
import { AnswerBlocks, encodeHeaderBlock } from "./hpack-encoder";
import { toHeaders, type UnaryCallState, type UnaryConnection, type UnaryRouter } from "./native-connection";
import type { WriteCallback } from "./native-stream";

// The header blocks of a plain successful answer, encoded once.
const OK_ANSWER = new AnswerBlocks(RESPONSE_HEADERS, statusTrailers(OK_STATUS));
const PREFIX = 5;
// The smallest buffer a request gathered from several DATA frames gets.
const MIN_GATHERED = 256;
// How much larger than a request's first DATA frame the memory it was read into may be for the request to stay
// there (while it waits for END_STREAM) instead of being copied out.
const READ_SLACK = 4096;

// Whether a request's first DATA frame may stay where it was read: it holds a whole message, and keeping it does
// not keep a much larger socket read alive.
function keepsInPlace(chunk: Buffer): boolean {
  return (
    chunk.length >= PREFIX &&
    chunk.length >= PREFIX + chunk.readUInt32BE(1) &&
    chunk.buffer.byteLength <= 4 * chunk.length + READ_SLACK
  );
}

// The response data queue of a call that has none (most: the answer goes out at once); never added to.
const NO_DATA: Buffer[] = [];
const NO_CALLBACKS: (WriteCallback | undefined)[] = [];

/** The header fields a native unary call is chosen by. */
interface RequestLine {
  readonly path: string;
  readonly timeout: string | undefined;
}

// The request's :path and grpc-timeout when it may be served natively
// (POST, application/grpc[+proto], identity or no grpc-encoding); else undefined. The connection has
// checked the fields (RFC 9113 8.2.1: names are lower-case tokens) before it asks.
function requestLine(fields: HeaderFields): RequestLine | undefined {
  let path: string | undefined;
  let timeout: string | undefined;
  let method = false;
  let contentType = false;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] as string;
    const value = fields[i + 1] as string;
    switch (name) {
      case ":path":
        path = value;
        break;
      case ":method":
        method = value === "POST";
        break;
      case "content-type":
        contentType = isProtoContentType(value);
        break;
      case "grpc-encoding":
        if (value !== "identity") return undefined;
        break;
      case "grpc-timeout":
        timeout = value;
        break;
      default:
        break;
    }
  }
  return path !== undefined && method && contentType ? { path, timeout } : undefined;
}

/**
 * A unary call of a native route, kept small: no
 * stream object or events, the request gathered from DATA frames, the
 * deadline timer armed only when the handler does not answer at once, and
 * the answer (headers, message, trailers) written as one buffer when the
 * flow-control windows allow it. It offers handlers the subset of grpc-js's
 * ServerUnaryCall described at `OffloadServerOptions.nativeRoutes`.
 */
export class NativeUnaryCall implements UnaryCallState {
  // StreamState
  receivedUnacked = 0;
  receiveWindow = 0;
  // Request bytes are given back to the stream as they are taken, to the connection only once let go of: what
  // all the calls of a connection hold is bounded by the connection's receive window.
  readonly defersConsumption = true;
  private held = 0;
  pending: Buffer[] = NO_DATA;
  pendingCallbacks: (WriteCallback | undefined)[] = NO_CALLBACKS;
  pendingOffset = 0;
  pendingBytes = 0;
  remoteEnded = false;
  closed = false;
  // The call, as handlers see it
  request: unknown = undefined;
  cancelled = false;
  private answered = false;
  // The request's bytes: the first DATA frame's own memory while it may hold the whole message, else a buffer of
  // the call's own (`gathered`, `received` bytes filled) that frames are copied into.
  private first: Buffer | undefined;
  private gathered: Buffer | undefined;
  private received = 0;
  private deadlineAt = Infinity;
  private timer: NodeJS.Timeout | undefined;
  private custom: Metadata | undefined;
  private headersObject: IncomingHttpHeaders | undefined;
  private metadataObject: Metadata | undefined;
  private trailersAfterData: Buffer | undefined;

  constructor(
    readonly id: number,
    public sendWindow: number,
    private readonly connection: UnaryConnection,
    private readonly route: NativeUnaryRoute,
    private readonly fields: HeaderFields,
    private readonly timeout: string | undefined,
    private readonly options: CallOptions,
    private readonly tracker: CallTracker | undefined,
  ) {}

  /** The handler's callback (grpc-js's sendUnaryData). */
  private readonly callback: sendUnaryData<unknown> = (err, value, trailer) => this.answer(err, value, trailer);

  start(): void {
    if (this.timeout === undefined) return;
    const ms = parseGrpcTimeout(this.timeout);
    if (ms === undefined) {
      this.fail({ code: status.INTERNAL, details: `Invalid grpc-timeout value "${this.timeout}"` });
      return;
    }
    // Counted from HEADERS: a request body that is slow to come (or never ends) cannot hold the call past it. The
    // timer itself is armed only if the call is still open once the connection has read what it was given
    // (`armDeadline`): most calls are answered by then and never cost a timer.
    this.deadlineAt = Date.now() + ms;
    this.connection.deferDeadline(this);
  }

  armDeadline(): void {
    if (this.answered || this.closed || this.timer !== undefined || this.deadlineAt === Infinity) return;
    this.timer = setTimeout(
      () => {
        this.fail(DEADLINE_EXCEEDED);
        this.cancelled = true;
      },
      Math.max(0, this.deadlineAt - Date.now()),
    );
  }

  // ---- what handlers use ----

  get metadata(): Metadata {
    return (this.metadataObject ??= requestMetadata(this.headers()));
  }

  getPeer(): string {
    return peerAddress(this.connection.socket);
  }

  getDeadline(): number {
    return this.deadlineAt;
  }

  getPath(): string {
    return this.route.path;
  }

  getHost(): string | undefined {
    return hostOf(this.headers());
  }

  sendMetadata(metadata: Metadata): void {
    if (!this.answered) this.custom = metadata;
  }

  // ---- StreamState ----

  receiveData(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.answered) {
      this.connection.connectionConsumed(chunk.length); // dropped
      return;
    }
    this.held += chunk.length;
    this.connection.streamConsumed(this, chunk.length);
    const before = this.received;
    this.received += chunk.length;
    if (this.first === undefined && this.gathered === undefined && keepsInPlace(chunk)) this.first = chunk;
    else this.gather(chunk, before);
    // The message's length prefix is checked as soon as it is in: a message over the limit is refused before
    // its body comes (RESOURCE_EXHAUSTED), and the bytes held for a call never pass prefix + limit.
    const limit = this.options.maxReceiveMessageLength;
    if (limit === -1 || (before >= PREFIX && this.received - PREFIX <= limit)) return;
    if (this.received < PREFIX) return;
    const length = this.prefixLength();
    if (length > limit || this.received - PREFIX > limit) {
      this.connection.noteLimitHit("messageSize");
      this.fail({
        code: status.RESOURCE_EXHAUSTED,
        details: `Received message larger than max (${Math.max(length, this.received - PREFIX)} vs. ${limit})`,
      });
      this.first = this.gathered = undefined;
      this.letGo();
    }
  }

  // Copies `chunk` after the `filled` bytes received before it into the call's own buffer, grown by doubling: a
  // request that comes in many DATA frames (a hostile client sends one byte each) holds about its own size, not a
  // Buffer per frame nor the socket reads the frames were cut from.
  private gather(chunk: Buffer, filled: number): void {
    // The first frame, kept where it was read, is always copied out: it holds just the `filled` bytes.
    const into = grownBuffer(this.gathered ?? this.first, filled, filled + chunk.length, MIN_GATHERED);
    this.first = undefined;
    this.gathered = into;
    chunk.copy(into, filled);
  }

  // The request bytes held are let go of: the connection window gets them back.
  private letGo(): void {
    if (this.held === 0) return;
    this.connection.connectionConsumed(this.held);
    this.held = 0;
  }

  // The length in the 5-byte prefix of the request's message (at least 5 bytes received).
  private prefixLength(): number {
    return ((this.first ?? this.gathered) as Buffer).readUInt32BE(1);
  }

  receiveEnd(): void {
    if (this.remoteEnded) return;
    this.remoteEnded = true;
    if (this.answered) {
      if (this.pendingBytes === 0 && this.trailersAfterData === undefined) this.close();
      return;
    }
    this.run();
  }

  receiveReset(): void {
    if (this.closed) return;
    if (!this.answered) this.tracker?.ended(cutOffCode(this.deadlineAt));
    this.answered = true;
    this.cancelled = true;
    this.close();
  }

  dataDrained(): void {
    const trailers = this.trailersAfterData;
    if (trailers === undefined || this.pendingBytes > 0 || this.closed) return;
    this.trailersAfterData = undefined;
    this.connection.send(trailers);
    this.ended();
  }

  drained(): void {
    // Unary answers never wait for 'drain'.
  }

  // ---- the call ----

  private headers(): IncomingHttpHeaders {
    return (this.headersObject ??= toHeaders(this.fields) ?? {});
  }

  private run(): void {
    const body = this.first ?? this.gathered?.subarray(0, this.received);
    this.first = this.gathered = undefined;
    this.letGo(); // decoded below, in this turn
    const path = this.route.path;
    if (body === undefined || body.length === 0) {
      this.fail({ code: status.UNIMPLEMENTED, details: `Received no request message for method ${path}` });
      return;
    }
    if (body.length < PREFIX) {
      this.fail({ code: status.INTERNAL, details: `Request ended inside a message (${body.length} bytes held)` });
      return;
    }
    const length = body.readUInt32BE(1);
    const limit = this.options.maxReceiveMessageLength;
    if (limit !== -1 && length > limit) {
      this.fail({
        code: status.RESOURCE_EXHAUSTED,
        details: `Received message larger than max (${length} vs. ${limit})`,
      });
      return;
    }
    if (body.length < PREFIX + length) {
      this.fail({ code: status.INTERNAL, details: `Request ended inside a message (${body.length} bytes held)` });
      return;
    }
    if (body.length > PREFIX + length) {
      // A second message, or bytes of one that never ended (as the streaming path's reader tells them apart).
      const rest = body.length - PREFIX - length;
      if (rest < PREFIX || rest < PREFIX + body.readUInt32BE(PREFIX + length + 1)) {
        this.fail({ code: status.INTERNAL, details: `Request ended inside a message (${rest} bytes held)` });
      } else {
        this.fail({ code: status.UNIMPLEMENTED, details: `Received a second request message for method ${path}` });
      }
      return;
    }
    if (body[0] !== 0) {
      // A compressed message on an identity call, or a flag byte other than 0 or 1 (PROTOCOL-HTTP2: Compressed-Flag).
      this.fail({
        code: status.INTERNAL,
        details:
          body[0] === 1
            ? "Received a compressed message on a call with grpc-encoding identity"
            : `Received a message with an invalid flags byte ${body[0] as number}`,
      });
      return;
    }
    const now = this.deadlineAt === Infinity ? 0 : Date.now();
    if (now >= this.deadlineAt) {
      this.fail(DEADLINE_EXCEEDED);
      return;
    }
    try {
      this.request = this.route.decode(body.subarray(PREFIX));
    } catch (err) {
      this.fail({ code: status.INTERNAL, details: `Error deserializing request: ${messageOf(err)}` });
      return;
    }
    this.tracker?.messageReceived();
    try {
      // The one cast: handlers of native routes get this subset of ServerUnaryCall (no events).
      this.route.handler(this as unknown as ServerUnaryCall<unknown, unknown>, this.callback);
    } catch (e) {
      this.fail({ code: status.UNKNOWN, details: `Server method handler threw error ${messageOf(e)}` });
      return;
    }
  }

  private answer(err: Parameters<sendUnaryData<unknown>>[0], value: unknown, trailer?: Metadata): void {
    if (this.answered) return;
    if (err) {
      this.fail(errorToStatus(err, trailer));
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = this.route.serialize(value);
    } catch (e) {
      this.fail({ code: status.INTERNAL, details: `Error serializing response: ${messageOf(e)}` });
      return;
    }
    const limit = this.options.maxSendMessageLength;
    if (limit !== -1 && bytes.length > limit) {
      this.fail({
        code: status.RESOURCE_EXHAUSTED,
        details: `Sent message larger than max (${bytes.length} vs. ${limit})`,
      });
      return;
    }
    if (!this.settle(status.OK)) return;
    this.tracker?.messageSent();
    // A handler's own metadata makes blocks of their own; the rest share the OK answer's.
    const own: readonly [Buffer, Buffer] | undefined =
      this.custom || trailer
        ? [
            this.custom ? encodeHeaderBlock(responseHeaders(this.custom)) : OK_ANSWER.plain[0],
            trailer ? encodeHeaderBlock(statusTrailers({ ...OK_STATUS, metadata: trailer })) : OK_ANSWER.plain[1],
          ]
        : undefined;
    const connection = this.connection;
    const dataLength = PREFIX + bytes.length;
    const maxFrame = connection.maxFrameSize;
    if (
      (own === undefined || (own[0].length <= maxFrame && own[1].length <= maxFrame)) &&
      dataLength <= maxFrame &&
      !connection.tableSizeUpdatePending &&
      connection.takeWindow(this, dataLength)
    ) {
      // The usual case: one buffer, three frames, queued at once (so the OK answer may use the peer's table).
      const [headerBlock, trailerBlock] = own ?? connection.answerBlocks(OK_ANSWER);
      const total = 3 * FRAME_HEADER_BYTES + headerBlock.length + dataLength + trailerBlock.length;
      const out = Buffer.allocUnsafe(total);
      let at = 0;
      writeFrameHeader(out, at, headerBlock.length, FrameType.HEADERS, Flag.END_HEADERS, this.id);
      at += FRAME_HEADER_BYTES;
      at += headerBlock.copy(out, at);
      writeFrameHeader(out, at, dataLength, FrameType.DATA, 0, this.id);
      at += FRAME_HEADER_BYTES;
      out[at] = 0;
      out.writeUInt32BE(bytes.length, at + 1);
      out.set(bytes, at + PREFIX);
      at += dataLength;
      writeFrameHeader(out, at, trailerBlock.length, FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, this.id);
      trailerBlock.copy(out, at + FRAME_HEADER_BYTES);
      connection.send(out);
      this.ended();
      return;
    }
    // A window too small or frames too big: the connection's general path, with literal blocks (the trailers may
    // go out much later, after a change of the peer's table).
    const [headerBlock, trailerBlock] = own ?? OK_ANSWER.plain;
    // A window too small or frames too big: the connection's general path.
    connection.sendHeaders(this.id, headerBlock, false);
    const message = Buffer.allocUnsafe(dataLength);
    message[0] = 0;
    message.writeUInt32BE(bytes.length, 1);
    message.set(bytes, PREFIX);
    this.pending = [message];
    this.pendingCallbacks = [undefined];
    this.pendingBytes = dataLength;
    this.trailersAfterData = headerFrames(this.id, trailerBlock, true, maxFrame);
    connection.pump(this);
  }

  private fail(result: GrpcStatus): void {
    if (!this.settle(result.code)) return;
    const block = encodeHeaderBlock(trailersOnlyHeaders(result));
    this.connection.sendHeaders(this.id, block, true);
    this.ended();
  }

  // Marks the call answered with `code` (reported); false when it already was or the stream is gone.
  private settle(code: number): boolean {
    if (this.answered) return false;
    this.answered = true;
    this.tracker?.ended(code);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    return !this.closed;
  }

  // We sent END_STREAM: a peer still sending is told to stop (RFC 9113 8.1).
  private ended(): void {
    if (!this.remoteEnded) this.connection.sendReset(this.id, ErrorCode.NO_ERROR);
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.answered) {
      this.answered = true;
      this.tracker?.ended(cutOffCode(this.deadlineAt));
    }
    this.first = this.gathered = undefined;
    this.letGo();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = NO_DATA;
    this.pendingCallbacks = NO_CALLBACKS;
    this.pendingBytes = 0;
    this.connection.release(this);
  }
}

/**
 * The `UnaryRouter` of a server's native unary routes: a request for one of
 * them (POST, application/grpc[+proto], identity encoding) becomes a
 * `NativeUnaryCall`; anything else goes on to the connection's `onStream`.
 */
export function createUnaryRouter(
  routes: ReadonlyMap<string, NativeRoute>,
  options: CallOptions,
  counters: { served: number },
  startCall?: NativeCallStarter,
): UnaryRouter {
  return {
    open(id, fields, connection, initialWindow) {
      const line = requestLine(fields);
      if (line === undefined) return undefined;
      const route = routes.get(line.path);
      if (route === undefined || route.kind !== "unary") return undefined;
      counters.served += 1;
      const tracker = startCall?.(route);
      return new NativeUnaryCall(id, initialWindow, connection, route, fields, line.timeout, options, tracker);
    },
  };
}

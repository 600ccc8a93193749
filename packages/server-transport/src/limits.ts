/**
 * The limits of the native HTTP/2 transport: what one client may take of the
 * server before it is refused, reset or disconnected. Every field has a safe
 * default (`DEFAULT_TRANSPORT_LIMITS`); pass the ones to change as
 * `OffloadServerOptions.limits`. docs/SERVER.md compares each default with
 * nghttp2's, Go's x/net/http2's and grpc-js's.
 */
export interface TransportLimits {
  /** Connections served at once; one more is sent GOAWAY (ENHANCE_YOUR_CALM) and closed at accept. */
  readonly maxConnections: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS: advertised, and streams above it are refused (RST_STREAM REFUSED_STREAM). */
  readonly maxConcurrentStreams: number;
  /**
   * SETTINGS_MAX_HEADER_LIST_SIZE: the decoded size of a request's header list,
   * counted as RFC 7541 4.1 does (name + value + 32 per field). Decoding stops
   * keeping fields once over it and the stream is reset (ENHANCE_YOUR_CALM).
   * The compressed header block may not be longer either (GOAWAY ENHANCE_YOUR_CALM).
   */
  readonly maxHeaderListBytes: number;
  /** CONTINUATION frames in one header block, empty ones included; one more: GOAWAY ENHANCE_YOUR_CALM. */
  readonly maxContinuationFrames: number;
  /**
   * Stream resets per `rateWindowMs`: RST_STREAM frames received and streams
   * reset for a client's error (rapid reset, CVE-2023-44487, and its
   * server-provoked variant). One more: GOAWAY ENHANCE_YOUR_CALM, and no
   * further stream of the connection is dispatched.
   */
  readonly maxResetsPerWindow: number;
  /** PING frames (not ACKs) per `rateWindowMs`; one more: GOAWAY ENHANCE_YOUR_CALM. */
  readonly maxPingsPerWindow: number;
  /** SETTINGS frames (not ACKs) per `rateWindowMs`; one more: GOAWAY ENHANCE_YOUR_CALM. */
  readonly maxSettingsPerWindow: number;
  /**
   * Frames that do no work, per `rateWindowMs` (the empty-frames flood of
   * CVE-2019-9518): DATA without data or END_STREAM, DATA or trailers on a
   * closed stream, PRIORITY, frames of unknown type, SETTINGS and PING ACKs of
   * nothing we sent, GOAWAY after the first, and WINDOW_UPDATE frames beyond
   * two for each DATA frame we sent (a client gives window back for what it
   * read; one that keeps raising windows we did not use does nothing). One
   * more: GOAWAY ENHANCE_YOUR_CALM.
   */
  readonly maxEmptyFramesPerWindow: number;
  /** The window of the four rates above, in ms. */
  readonly rateWindowMs: number;
  /**
   * Bytes the socket of a connection may hold unwritten (a client that does
   * not read). Above a quarter of it the connection stops reading requests and
   * sending stream data until the socket drains; above it: GOAWAY
   * ENHANCE_YOUR_CALM and the connection is closed.
   */
  readonly maxQueuedBytes: number;
  /**
   * SETTINGS_INITIAL_WINDOW_SIZE: request bytes a stream may send before we
   * give window back, which we do as its handler (or the forwarding to
   * grpc-js) consumes them. More than the window: RST_STREAM FLOW_CONTROL_ERROR.
   */
  readonly streamWindowBytes: number;
  /** The connection's receive window, given back as streams consume; more than it: GOAWAY FLOW_CONTROL_ERROR. */
  readonly connectionWindowBytes: number;
  /**
   * Request bytes the whole server may hold received and not yet consumed
   * (DATA payloads not yet handed to a handler, forwarded, or dropped),
   * summed over all its connections (`TransportStats.heldRequestBytes`). A
   * DATA frame that takes the sum over it sheds the connection holding the
   * most, with GOAWAY ENHANCE_YOUR_CALM (its calls are cancelled and what it
   * held is let go of), until the sum is within it again.
   */
  readonly maxHeldRequestBytes: number;
  /** Time from accept to the client's preface and first SETTINGS, in ms; then the connection is closed. */
  readonly prefaceTimeoutMs: number;
  /** A connection without open streams for this long is sent GOAWAY (NO_ERROR) and closed; 0: never. */
  readonly idleTimeoutMs: number;
  /** After this long without a frame from the client, the server sends a PING; 0: never. */
  readonly keepaliveIntervalMs: number;
  /** A keepalive PING not acknowledged within this long closes the connection. */
  readonly keepaliveTimeoutMs: number;
}

/** The default `TransportLimits`. */
export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = Object.freeze({
  maxConnections: 1000,
  maxConcurrentStreams: 100,
  maxHeaderListBytes: 64 * 1024,
  maxContinuationFrames: 32,
  maxResetsPerWindow: 500,
  maxPingsPerWindow: 100,
  maxSettingsPerWindow: 100,
  maxEmptyFramesPerWindow: 1000,
  rateWindowMs: 1000,
  maxQueuedBytes: 4 * 1024 * 1024,
  streamWindowBytes: 1024 * 1024,
  connectionWindowBytes: 16 * 1024 * 1024,
  maxHeldRequestBytes: 256 * 1024 * 1024,
  prefaceTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  keepaliveIntervalMs: 7_200_000,
  keepaliveTimeoutMs: 20_000,
});

// [least, greatest] of each limit.
const RANGES: Readonly<Record<keyof TransportLimits, readonly [number, number]>> = {
  maxConnections: [1, 1_000_000],
  maxConcurrentStreams: [1, 0x7fffffff],
  maxHeaderListBytes: [1024, 16 * 1024 * 1024],
  maxContinuationFrames: [0, 1_000_000],
  maxResetsPerWindow: [1, 0x7fffffff],
  maxPingsPerWindow: [1, 0x7fffffff],
  maxSettingsPerWindow: [1, 0x7fffffff],
  maxEmptyFramesPerWindow: [1, 0x7fffffff],
  rateWindowMs: [1, 3_600_000],
  maxQueuedBytes: [64 * 1024, 2 ** 40],
  streamWindowBytes: [65535, 0x7fffffff],
  connectionWindowBytes: [65535, 0x7fffffff],
  maxHeldRequestBytes: [64 * 1024, 2 ** 40],
  prefaceTimeoutMs: [1, 3_600_000],
  idleTimeoutMs: [0, 2 ** 31 - 1],
  keepaliveIntervalMs: [0, 2 ** 31 - 1],
  keepaliveTimeoutMs: [1, 2 ** 31 - 1],
};

/**
 * The defaults with `given` over them; throws a RangeError naming the first
 * field that is not an integer in its range.
 */
export function resolveTransportLimits(given: Partial<TransportLimits> = {}): TransportLimits {
  const limits = { ...DEFAULT_TRANSPORT_LIMITS };
  for (const key of Object.keys(RANGES) as (keyof TransportLimits)[]) {
    const value = given[key];
    if (value === undefined) continue;
    const [least, greatest] = RANGES[key];
    if (!Number.isInteger(value) || value < least || value > greatest) {
      throw new RangeError(`limits.${key}: must be an integer in ${least}..${greatest}, got ${value}`);
    }
    limits[key] = value;
  }
  return Object.freeze(limits);
}

/** The names of the limits, as `TransportStats.limitHits` counts them. */
export type TransportLimitName =
  | "connections"
  | "concurrentStreams"
  | "headerListSize"
  | "continuationFrames"
  | "resets"
  | "pings"
  | "settings"
  | "emptyFrames"
  | "queuedBytes"
  | "flowControl"
  | "heldRequestBytes"
  | "messageSize"
  | "prefaceTimeout"
  | "idleTimeout"
  | "keepaliveTimeout";

import type { ServerWritableStream } from "@grpc/grpc-js";

/** Why a stream stopped before its handler ended it. */
export type StreamStop = "cancelled" | "shutdown";

/**
 * Flow control and liveness of one server stream: whether the peer is still
 * there, waiting for 'drain', and counting messages the transport has taken.
 * It is a `ClosedSessionSink` (switch-backend/kit) for exactly-once delivery.
 */
export interface StreamGate<M = unknown> {
  /** Writes `message` on the stream, counting it in `flushed` once the transport took it; false when the buffer is full. */
  write(message: M): boolean;
  /** Set once the client cancelled or went away ("cancelled") or the server is stopping ("shutdown"). */
  readonly stopped: StreamStop | undefined;
  /** Messages whose write callback has fired: handed to HTTP/2, past the stream's buffer. */
  readonly flushed: number;
  /** Write callback counting `flushed`: pass it to every `call.write` made without `write`. */
  readonly onFlushed: (err?: Error | null) => void;
  /** Resolves on 'drain', or at once when stopped. */
  waitDrain(): Promise<void>;
  /**
   * Resolves when `flushed >= count`, or when the call is cancelled (the
   * transport will take no more). A server shutdown does not cut this wait:
   * the stream is still open and its buffered messages still go out.
   */
  waitFlushed(count: number): Promise<void>;
  /** Removes the gate's listeners. */
  dispose(): void;
}

/**
 * Watches `call` ('drain', 'cancelled', 'close', 'error') and `signal` (server
 * shutdown). One waiter at a time: the handler awaits either drain or flush.
 */
export function createStreamGate<M>(call: ServerWritableStream<unknown, M>, signal?: AbortSignal): StreamGate<M> {
  let stopped: StreamStop | undefined = call.cancelled ? "cancelled" : signal?.aborted ? "shutdown" : undefined;
  let flushed = 0;
  // The one pending wait: for 'drain', or for `flushed` to reach `flushTarget`.
  let waiting: "drain" | "flush" | undefined;
  let flushTarget = 0;
  let wake: (() => void) | undefined;

  const resume = (): void => {
    const w = wake;
    wake = undefined;
    waiting = undefined;
    w?.();
  };
  const onDrain = (): void => {
    if (waiting === "drain") resume();
  };
  const onGone = (): void => {
    stopped = "cancelled";
    resume();
  };
  const onAbort = (): void => {
    stopped ??= "shutdown";
    if (waiting === "drain") resume();
  };
  const onFlushed = (err?: Error | null): void => {
    if (err) return;
    flushed += 1;
    if (waiting === "flush" && flushed >= flushTarget) resume();
  };

  call.on("drain", onDrain);
  call.on("cancelled", onGone);
  call.on("close", onGone);
  call.on("error", onGone);
  signal?.addEventListener("abort", onAbort);

  return {
    write(message) {
      return call.write(message, onFlushed);
    },
    get stopped() {
      return stopped;
    },
    get flushed() {
      return flushed;
    },
    onFlushed,
    waitDrain() {
      if (stopped) return Promise.resolve();
      waiting = "drain";
      return new Promise<void>((resolve) => {
        wake = resolve;
      });
    },
    waitFlushed(count) {
      if (stopped === "cancelled" || flushed >= count) return Promise.resolve();
      waiting = "flush";
      flushTarget = count;
      return new Promise<void>((resolve) => {
        wake = resolve;
      });
    },
    dispose() {
      call.off("drain", onDrain);
      call.off("cancelled", onGone);
      call.off("close", onGone);
      call.off("error", onGone);
      signal?.removeEventListener("abort", onAbort);
      resume();
    },
  };
}

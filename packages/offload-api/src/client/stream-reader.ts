import type { ClientReadableStream } from "@grpc/grpc-js";

/** Pull-based access to a grpc-js server stream. */
export interface StreamReader<M> {
  /** The next message, or undefined at the end; rejects with the call's error. */
  next(): Promise<M | undefined>;
  /** Messages received so far. */
  readonly received: number;
}

/**
 * Reads a grpc-js server stream message by message, holding at most
 * `highWaterMark` messages before pausing it, so that HTTP/2 flow control
 * holds the server back while the consumer is slow. Listeners stay attached
 * for the call's life: a cancel after the consumer stopped never surfaces as
 * an unhandled 'error' event.
 */
export function createStreamReader<M>(call: ClientReadableStream<M>, highWaterMark: number): StreamReader<M> {
  const queue: M[] = [];
  let ended = false;
  let statusSeen = false;
  let failure: unknown;
  let received = 0;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  call.on("data", (message: M) => {
    received++;
    queue.push(message);
    if (queue.length >= highWaterMark) call.pause();
    notify();
  });
  call.on("error", (err: unknown) => {
    failure ??= err;
    notify();
  });
  call.on("status", () => {
    statusSeen = true;
    notify();
  });
  call.on("end", () => {
    ended = true;
    notify();
  });
  return {
    get received() {
      return received;
    },
    async next() {
      for (;;) {
        const message = queue.shift();
        if (message !== undefined) {
          if (call.isPaused() && queue.length <= highWaterMark / 2) call.resume();
          return message;
        }
        // grpc-js ends the readable side before it reports a failed status: deliver
        // every message that arrived, then the error.
        const drained = ended || (statusSeen && call.readableLength === 0);
        if (drained && failure !== undefined) throw failure;
        if (ended) return undefined;
        if (call.isPaused()) call.resume();
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
  };
}

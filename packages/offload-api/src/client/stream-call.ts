import type { CallOptions as GrpcCallOptions, ClientReadableStream } from "@grpc/grpc-js";
import { abortError } from "./call-options";
import { toOffloadError } from "./offload-error";
import { awaitRetry, type RetryContext } from "./retry-loop";
import { createStreamReader } from "./stream-reader";

/** Starts one attempt of a server-streaming call. */
export type StartStream<M> = (options: Partial<GrpcCallOptions>) => ClientReadableStream<M>;

/** Messages the client buffers per stream before it pauses the transport. */
const HIGH_WATER_MARK = 16;

/**
 * Runs a server-streaming call as an async generator of converted messages.
 * A call that fails with UNAVAILABLE before its first message is retried
 * under the policy (nothing was received, so nothing is repeated); after a
 * message has arrived, failures end the iteration with `OffloadError`.
 * Returning early (`break` out of `for await`) or the signal firing cancels
 * the call on the wire. Created by the caller per iteration: the context's
 * deadline is fixed when iteration starts.
 */
export async function* streamCall<M, T>(
  makeContext: () => RetryContext,
  start: StartStream<M>,
  convert: (message: M) => T,
): AsyncGenerator<T, void, undefined> {
  const ctx = makeContext();
  for (let attempt = 1; ; attempt++) {
    if (ctx.signal?.aborted) throw abortError(ctx.signal, ctx.method, attempt);
    const call = start(ctx.deadlineMs === undefined ? {} : { deadline: ctx.deadlineMs });
    const reader = createStreamReader(call, HIGH_WATER_MARK);
    const onAbort = (): void => call.cancel();
    ctx.signal?.addEventListener("abort", onAbort, { once: true });
    let finished = false;
    try {
      for (;;) {
        let message: M | undefined;
        try {
          message = await reader.next();
        } catch (err) {
          finished = true;
          if (ctx.signal?.aborted) throw abortError(ctx.signal, ctx.method, attempt);
          if (reader.received > 0) throw toOffloadError(err, ctx.method, attempt);
          await awaitRetry(ctx, err, attempt);
          break; // next attempt
        }
        if (message === undefined) {
          finished = true;
          return;
        }
        let value: T;
        try {
          value = convert(message);
        } catch (err) {
          throw toOffloadError(err, ctx.method, attempt);
        }
        yield value;
      }
    } finally {
      ctx.signal?.removeEventListener("abort", onAbort);
      if (!finished) call.cancel();
    }
  }
}

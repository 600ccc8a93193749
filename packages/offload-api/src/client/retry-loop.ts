import { status } from "@grpc/grpc-js";
import { abortableSleep } from "./abortable-sleep";
import { abortError } from "./call-options";
import type { ClientLogger, RetryEvent } from "./client-logger";
import { isServiceError, OffloadError, toOffloadError } from "./offload-error";
import { backoffDelayMs, type RetryPolicy } from "./retry-policy";
import { tlsFailureOf } from "./tls-failure";

/** What one call's retry loop needs: the policy, whether this call may be retried, its deadline and signal. */
export interface RetryContext {
  readonly method: string;
  readonly policy: RetryPolicy;
  /** False for calls that are not safe to repeat (then one attempt only). */
  readonly retryable: boolean;
  /** Absolute deadline in ms since the epoch, or undefined. */
  readonly deadlineMs: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly random: () => number;
  readonly now: () => number;
  readonly logger: ClientLogger | undefined;
  readonly onRetry: ((event: RetryEvent) => void) | undefined;
}

/**
 * After attempt number `attempt` failed with `err`: waits the backoff and
 * resolves when another attempt should be made, or throws the `OffloadError`
 * to give up with (not UNAVAILABLE, not retryable, attempts used up, the wait
 * would pass the deadline, or the signal fired). A TLS failure that another
 * attempt cannot fix (an untrusted or mismatched certificate, a plaintext
 * server) is UNAVAILABLE too, but is never retried: it is thrown at once,
 * saying what is wrong.
 */
export async function awaitRetry(ctx: RetryContext, err: unknown, attempt: number): Promise<void> {
  if (ctx.signal?.aborted) throw abortError(ctx.signal, ctx.method, attempt);
  const unavailable = isServiceError(err) && err.code === status.UNAVAILABLE;
  const tls = unavailable ? tlsFailureOf(err.details) : undefined;
  if (tls !== undefined) {
    const details = `TLS handshake failed, not retried: ${tls.reason} (${tls.error})`;
    throw new OffloadError(status.UNAVAILABLE, details, { cause: err, method: ctx.method, attempts: attempt });
  }
  if (!unavailable || !ctx.retryable || attempt >= ctx.policy.maxAttempts) {
    throw toOffloadError(err, ctx.method, attempt);
  }
  const delayMs = backoffDelayMs(ctx.policy, attempt, ctx.random);
  if (ctx.deadlineMs !== undefined && ctx.now() + delayMs >= ctx.deadlineMs) {
    throw toOffloadError(err, ctx.method, attempt);
  }
  const event: RetryEvent = { method: ctx.method, attempt, delayMs, details: err.details };
  ctx.logger?.debug({ ...event }, "offload client: retrying after UNAVAILABLE");
  ctx.onRetry?.(event);
  if (!(await abortableSleep(delayMs, ctx.signal))) throw abortError(ctx.signal as AbortSignal, ctx.method, attempt);
}

import { ValidationError } from "../validation";

/** How UNAVAILABLE calls are retried: exponential backoff with jitter, a bounded number of attempts. */
export interface RetryPolicy {
  /** Attempts in all, the first included; 1 disables retries. Default 5. */
  readonly maxAttempts: number;
  /** Backoff before the first retry, in milliseconds. Default 100. */
  readonly initialBackoffMs: number;
  /** Upper bound of one backoff, in milliseconds. Default 2000. */
  readonly maxBackoffMs: number;
  /** Growth factor of the backoff per retry. Default 2. */
  readonly multiplier: number;
  /**
   * Also retry deleteSession. Off by default: a delete that the switch applied
   * before the connection failed answers `notFound` when retried, and its final
   * counters are lost.
   */
  readonly retryDelete: boolean;
}

/** The default retry policy (5 attempts, 100 ms doubling up to 2 s, deleteSession not retried). */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  initialBackoffMs: 100,
  maxBackoffMs: 2000,
  multiplier: 2,
  retryDelete: false,
};

/**
 * Fills a partial policy with the defaults; `false` means no retries.
 * Throws `ValidationError` (field `retry.<name>`) for a non-finite or out-of-range value.
 */
export function resolveRetryPolicy(partial: Partial<RetryPolicy> | false | undefined): RetryPolicy {
  if (partial === false) return { ...DEFAULT_RETRY_POLICY, maxAttempts: 1 };
  const policy = { ...DEFAULT_RETRY_POLICY, ...partial };
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) {
    throw new ValidationError("retry.maxAttempts", `must be an integer >= 1, got ${policy.maxAttempts}`);
  }
  for (const name of ["initialBackoffMs", "maxBackoffMs"] as const) {
    if (!Number.isFinite(policy[name]) || policy[name] < 0) {
      throw new ValidationError(`retry.${name}`, `must be a finite number >= 0, got ${policy[name]}`);
    }
  }
  if (!Number.isFinite(policy.multiplier) || policy.multiplier < 1) {
    throw new ValidationError("retry.multiplier", `must be a finite number >= 1, got ${policy.multiplier}`);
  }
  return policy;
}

/**
 * The wait before retry number `retry` (1 for the first retry): the
 * exponential backoff capped at `maxBackoffMs`, with "equal jitter" (a random
 * point in its upper half), so that clients that failed together do not retry
 * together. `random` returns a number in [0, 1).
 */
export function backoffDelayMs(policy: RetryPolicy, retry: number, random: () => number): number {
  const base = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * policy.multiplier ** (retry - 1));
  return base / 2 + (random() * base) / 2;
}

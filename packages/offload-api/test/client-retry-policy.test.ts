import { describe, expect, it } from "@jest/globals";
import { backoffDelayMs, DEFAULT_RETRY_POLICY, ValidationError } from "../src";
import { resolveRetryPolicy } from "../src/client/retry-policy";

describe("backoffDelayMs", () => {
  const policy = { ...DEFAULT_RETRY_POLICY, initialBackoffMs: 100, maxBackoffMs: 1000, multiplier: 2 };

  it.each([
    [1, 0, 50],
    [1, 0.999999, 100],
    [2, 0, 100],
    [3, 0.5, 300],
    [4, 0, 400],
    [5, 0, 500], // capped: 1600 -> 1000
    [10, 0.999999, 1000],
  ])("retry %d with random %d waits %d ms", (retry, r, expected) => {
    expect(backoffDelayMs(policy, retry, () => r)).toBeCloseTo(expected, 3);
  });

  it("stays in the upper half of the exponential backoff for any random value", () => {
    for (let retry = 1; retry <= 8; retry++) {
      const base = Math.min(1000, 100 * 2 ** (retry - 1));
      for (const r of [0, 0.1, 0.5, 0.9, 0.9999]) {
        const d = backoffDelayMs(policy, retry, () => r);
        expect(d).toBeGreaterThanOrEqual(base / 2);
        expect(d).toBeLessThanOrEqual(base);
      }
    }
  });
});

describe("resolveRetryPolicy", () => {
  it("fills defaults and false disables retries", () => {
    expect(resolveRetryPolicy(undefined)).toEqual(DEFAULT_RETRY_POLICY);
    expect(resolveRetryPolicy({ maxAttempts: 2 }).maxAttempts).toBe(2);
    expect(resolveRetryPolicy(false).maxAttempts).toBe(1);
  });

  it.each([
    [{ maxAttempts: 0 }, "retry.maxAttempts"],
    [{ maxAttempts: 1.5 }, "retry.maxAttempts"],
    [{ initialBackoffMs: -1 }, "retry.initialBackoffMs"],
    [{ maxBackoffMs: Number.POSITIVE_INFINITY }, "retry.maxBackoffMs"],
    [{ multiplier: 0.5 }, "retry.multiplier"],
  ])("refuses %j naming %s", (partial, field) => {
    let caught: unknown;
    try {
      resolveRetryPolicy(partial);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).field).toBe(field);
  });
});

import type { Clock, EpochNanos } from "@sessionoffload/offload-api";

const NS_PER_MS = 1_000_000n;

/** A clock that moves only when told to: lifecycle tests step time without sleeping. */
export interface FakeClock extends Clock {
  /** Moves the clock forward by `ms` milliseconds (a non-negative finite number; fractions allowed). */
  advance(ms: number): void;
  /** Moves the clock forward by `ns` nanoseconds (non-negative). */
  advanceNanos(ns: bigint): void;
}

/** Options of `createFakeClock`. */
export interface FakeClockOptions {
  /** The starting time; default 2020-01-01T00:00:00Z. */
  readonly start?: EpochNanos;
}

/**
 * A fake clock starting at `options.start`. It never moves backwards:
 * `advance` throws a RangeError for a negative or non-finite step.
 */
export function createFakeClock(options: FakeClockOptions = {}): FakeClock {
  let now: EpochNanos = options.start ?? 1_577_836_800_000n * NS_PER_MS;
  const advanceNanos = (ns: bigint): void => {
    if (ns < 0n) throw new RangeError(`advance: step must not be negative, got ${ns} ns`);
    now += ns;
  };
  return {
    now: () => now,
    advanceNanos,
    advance(ms) {
      if (!Number.isFinite(ms) || ms < 0) {
        throw new RangeError(`advance: step must be a non-negative finite number of ms, got ${ms}`);
      }
      advanceNanos(BigInt(Math.round(ms * 1e6)));
    },
  };
}

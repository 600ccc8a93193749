import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";

/** A source of random numbers, injectable so that simulations are reproducible. */
export interface RandomSource {
  /** A float in [0, 1). */
  nextFloat(): number;
  /** An integer in [from, to], both included. */
  nextInt(from: number, to: number): number;
}

/**
 * A seeded random source (xoroshiro128+ from pure-rand): the same seed gives
 * the same sequence. Throws a RangeError when `seed` is not a safe integer.
 */
export function createSeededRandom(seed: number): RandomSource {
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(`seed: must be a safe integer, got ${seed}`);
  }
  const rng = xoroshiro128plus(seed);
  return {
    nextFloat: () => uniformFloat64(rng),
    nextInt: (from, to) => uniformInt(rng, from, to),
  };
}

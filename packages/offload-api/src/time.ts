import type { Timestamp } from "./wire";
import type { EpochNanos } from "./types";

const NS_PER_S = 1_000_000_000n;
const NS_PER_MS = 1_000_000n;

/** Converts nanoseconds since the epoch to a protobuf Timestamp (seconds, nanos). */
export function nanosToTimestamp(ns: EpochNanos): Timestamp {
  let seconds = ns / NS_PER_S;
  let nanos = Number(ns - seconds * NS_PER_S);
  if (nanos < 0) {
    seconds -= 1n;
    nanos += 1_000_000_000;
  }
  return { seconds, nanos };
}

/** Converts a protobuf Timestamp to nanoseconds since the epoch. */
export function timestampToNanos(ts: Timestamp): EpochNanos {
  return ts.seconds * NS_PER_S + BigInt(ts.nanos);
}

/** Converts nanoseconds since the epoch to a Date (milliseconds; sub-millisecond digits dropped). */
export function nanosToDate(ns: EpochNanos): Date {
  return new Date(Number(ns / NS_PER_MS));
}

/** Converts a Date to nanoseconds since the epoch. */
export function dateToNanos(date: Date): EpochNanos {
  return BigInt(date.getTime()) * NS_PER_MS;
}

/** A source of the current time, injectable so that tests can control it. */
export interface Clock {
  /** The current time in nanoseconds since the epoch. */
  now(): EpochNanos;
}

/**
 * The wall clock with nanosecond resolution: Date.now() at creation, advanced
 * by the monotonic high-resolution timer, so it never steps backwards.
 */
export function createSystemClock(): Clock {
  const originNs = BigInt(Date.now()) * NS_PER_MS;
  const originHr = process.hrtime.bigint();
  return { now: () => originNs + (process.hrtime.bigint() - originHr) };
}

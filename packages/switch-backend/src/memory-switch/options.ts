import { createSystemClock, UINT64_MAX, type Clock } from "@sessionoffload/offload-api";
import { createSeededRandom, type RandomSource } from "../random";
import { checkIntegerOption, SwitchOptionError } from "../switch-option-error";
import { resolveTrafficOptions, type TrafficModelOptions } from "../traffic-model";

/** Largest capacity: slot numbers must fit the Int32 links and index. */
export const MAX_CAPACITY = 0x7fff_fffe;

/** Options of `createMemorySwitch`; every field is optional. */
export interface MemorySwitchOptions {
  /** Most entries (live and closed-not-yet-collected); default 1,000,000; 1..2^31-2. */
  readonly capacity?: number;
  /** Time source; default `createSystemClock()`. */
  readonly clock?: Clock;
  /** Seed of the traffic model's random source; default 1 (a fixed seed: runs are reproducible). */
  readonly seed?: number;
  /** Random source for the traffic model; default a xoroshiro128+ seeded with `seed`. */
  readonly random?: RandomSource;
  /** Idle time after which a TCP session ends with `timeout`; default 3,600,000 ms (1 hour). */
  readonly tcpIdleTimeoutMs?: number;
  /** Idle time after which a UDP session ends with `timeout`; default 30,000 ms. */
  readonly udpIdleTimeoutMs?: number;
  /** The traffic model: true (default) with default settings, false for none, or its settings. */
  readonly traffic?: boolean | TrafficModelOptions;
  /** Period of the (unref'd) tick timer; default 1000 ms; 0 for no timer: the caller calls `step()`. */
  readonly tickIntervalMs?: number;
  /** The first id assigned; default 1n; 1..2^64-1. */
  readonly firstId?: bigint;
}

/** Options after validation, with defaults filled in. */
export interface ResolvedMemorySwitchOptions {
  readonly capacity: number;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly tcpIdleTimeoutNs: bigint;
  readonly udpIdleTimeoutNs: bigint;
  readonly traffic: TrafficModelOptions | undefined;
  readonly tickIntervalMs: number;
  readonly firstId: bigint;
}

const DAY_MS = 86_400_000;

function checkFirstId(value: bigint): bigint {
  if (typeof value !== "bigint" || value < 1n || value > UINT64_MAX) {
    throw new SwitchOptionError("firstId", `must be a bigint in 1..2^64-1, got ${String(value)}`);
  }
  return value;
}

/** Validates `options` and fills defaults; throws SwitchOptionError naming the first bad option. */
export function resolveMemorySwitchOptions(options: MemorySwitchOptions = {}): ResolvedMemorySwitchOptions {
  const capacity = checkIntegerOption("capacity", options.capacity ?? 1_000_000, 1, MAX_CAPACITY);
  const tcpMs = checkIntegerOption("tcpIdleTimeoutMs", options.tcpIdleTimeoutMs ?? 3_600_000, 1, 365 * DAY_MS);
  const udpMs = checkIntegerOption("udpIdleTimeoutMs", options.udpIdleTimeoutMs ?? 30_000, 1, 365 * DAY_MS);
  const tickIntervalMs = checkIntegerOption("tickIntervalMs", options.tickIntervalMs ?? 1000, 0, DAY_MS);
  const firstId = checkFirstId(options.firstId ?? 1n);
  const traffic = options.traffic ?? true;
  if (typeof traffic !== "boolean" && (typeof traffic !== "object" || traffic === null)) {
    throw new SwitchOptionError("traffic", `must be a boolean or traffic model options, got ${String(traffic)}`);
  }
  const trafficOptions = traffic === false ? undefined : traffic === true ? {} : traffic;
  if (trafficOptions !== undefined) resolveTrafficOptions(trafficOptions);
  const random =
    options.random ?? createSeededRandom(checkIntegerOption("seed", options.seed ?? 1, -(2 ** 53) + 1, 2 ** 53 - 1));
  return {
    capacity,
    clock: options.clock ?? createSystemClock(),
    random,
    tcpIdleTimeoutNs: BigInt(tcpMs) * 1_000_000n,
    udpIdleTimeoutNs: BigInt(udpMs) * 1_000_000n,
    traffic: trafficOptions,
    tickIntervalMs,
    firstId,
  };
}

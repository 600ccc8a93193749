export type {
  SwitchBackend,
  AddOptions,
  AddResult,
  ClosedLease,
  IterateOptions,
  MaybePromise,
  SwitchStats,
  TrafficDelta,
} from "./backend";
export { createMemorySwitch, MAX_CAPACITY } from "./memory-switch";
export type { MemorySwitch, MemorySwitchOptions } from "./memory-switch";
export type { TrafficModelOptions } from "./traffic-model";
export { createSeededRandom } from "./random";
export type { RandomSource } from "./random";
export { createFakeClock } from "./fake-clock";
export type { FakeClock, FakeClockOptions } from "./fake-clock";
export { SwitchOptionError } from "./switch-option-error";
export { SwitchUnavailableError } from "./switch-unavailable-error";

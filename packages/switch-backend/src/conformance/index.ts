export type { ConformanceHarness, HarnessFactory, HarnessOptions, TrafficDelta } from "./harness";
export { describeSwitchBackendConformance } from "./describe-conformance";
export type { ConformanceOptions } from "./describe-conformance";
export { conformanceSpec } from "./session-specs";
export { createMemorySwitchHarness } from "./memory-switch-harness";

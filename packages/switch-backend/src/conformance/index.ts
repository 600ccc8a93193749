export type { ConformanceHarness, HarnessFactory, HarnessOptions } from "./harness";
export type { TrafficDelta } from "../backend";
export { describeSwitchBackendConformance } from "./describe-conformance";
export type { ConformanceFeature, ConformanceOptions } from "./describe-conformance";
export { conformanceSpec } from "./session-specs";
export { createMemorySwitchHarness } from "./memory-switch-harness";

export type { ConformanceHarness, HarnessFactory, HarnessOptions, TrafficDelta } from "./harness";

import { createMemorySwitch, type MemorySwitchOptions } from "../memory-switch";
import type { HarnessFactory } from "./harness";

/**
 * A conformance harness factory for the memory switch: no timer, no traffic
 * model (so only the harness ends sessions), plus any `extra` options.
 */
export function createMemorySwitchHarness(extra: MemorySwitchOptions = {}): HarnessFactory {
  return async (options) => {
    const backend = createMemorySwitch({
      tickIntervalMs: 0,
      traffic: false,
      ...extra,
      capacity: options.capacity,
      ...(options.firstId === undefined ? {} : { firstId: options.firstId }),
    });
    return {
      backend,
      endSession: async (id, code) => backend.endSession(id, code),
      addTraffic: async (id, delta) => backend.addTraffic(id, delta),
      dispose: async () => backend.close(),
    };
  };
}

import { createFakeClock } from "../fake-clock";
import { createMemorySwitch, type MemorySwitchOptions } from "../memory-switch";
import type { HarnessFactory } from "./harness";

/**
 * A conformance harness factory for the memory switch: no timer, no traffic
 * model (so only the harness ends sessions), a fake clock that starts at the
 * real time (idle time passes when the suite says so), plus any `extra` options.
 */
export function createMemorySwitchHarness(extra: MemorySwitchOptions = {}): HarnessFactory {
  return async (options) => {
    const clock = createFakeClock({ start: BigInt(Date.now()) * 1_000_000n });
    const tcp = extra.tcpIdleTimeoutMs ?? 3_600_000;
    const udp = extra.udpIdleTimeoutMs ?? 30_000;
    const backend = createMemorySwitch({
      tickIntervalMs: 0,
      traffic: false,
      clock,
      ...extra,
      capacity: options.capacity,
      ...(options.firstId === undefined ? {} : { firstId: options.firstId }),
    });
    return {
      backend,
      endSession: async (id, code) => backend.endSession(id, code),
      addTraffic: async (id, delta) => backend.addTraffic(id, delta),
      async advanceIdleTime(ms) {
        clock.advance(ms);
        backend.step();
      },
      defaultIdleTimeoutMs: { tcp, udp },
      dispose: async () => backend.close(),
    };
  };
}

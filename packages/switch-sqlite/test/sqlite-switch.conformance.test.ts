import { afterAll, beforeAll } from "@jest/globals";
import path from "node:path";
import { createSqliteSwitch } from "../src";
import { createFakeClock } from "@sessionoffload/switch-backend";
import { describeSwitchBackendConformance, type HarnessFactory } from "@sessionoffload/switch-backend/conformance";
import { makeTempDir, removeTempDir } from "./fixtures/sqlite-helpers";

let dir = "";
let files = 0;
beforeAll(() => {
  dir = makeTempDir();
});
afterAll(() => removeTempDir(dir));

/**
 * Each test gets its own database file; no timer and no traffic model, so only the harness ends sessions;
 * a fake clock starting at the real time, so that idle time passes when the suite says so.
 */
const sqliteHarness: HarnessFactory = async (options) => {
  files += 1;
  const clock = createFakeClock({ start: BigInt(Date.now()) * 1_000_000n });
  const backend = createSqliteSwitch({
    clock,
    path: path.join(dir, `conformance-${files}.db`),
    tickIntervalMs: 0,
    traffic: false,
    capacity: options.capacity,
    ...(options.firstId === undefined ? {} : { firstId: options.firstId }),
  });
  return {
    backend,
    endSession: async (id, code) => {
      backend.endSession(id, code);
    },
    addTraffic: async (id, delta) => {
      backend.addTraffic(id, delta);
    },
    async advanceIdleTime(ms) {
      clock.advance(ms);
      backend.step();
    },
    defaultIdleTimeoutMs: { tcp: 3_600_000, udp: 30_000 },
    dispose: async () => backend.close(),
  };
};

describeSwitchBackendConformance("sqlite switch", sqliteHarness);

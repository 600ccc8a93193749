import { afterAll, beforeAll } from "@jest/globals";
import path from "node:path";
import { createSqliteSwitch } from "../src";
import { describeSwitchBackendConformance, type HarnessFactory } from "@sessionoffload/switch-backend/conformance";
import { makeTempDir, removeTempDir } from "./fixtures/sqlite-helpers";

let dir = "";
let files = 0;
beforeAll(() => {
  dir = makeTempDir();
});
afterAll(() => removeTempDir(dir));

/** Each test gets its own database file; no timer and no traffic model, so only the harness ends sessions. */
const sqliteHarness: HarnessFactory = async (options) => {
  files += 1;
  const backend = createSqliteSwitch({
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
    dispose: async () => backend.close(),
  };
};

describeSwitchBackendConformance("sqlite switch", sqliteHarness);

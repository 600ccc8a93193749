import { createInsecureCredentials } from "@sessionoffload/server-transport";
import { afterEach, describe, expect, it } from "@jest/globals";
import { sessionsV1 } from "@sessionoffload/offload-api";
import type { OffloadServer } from "@sessionoffload/server-transport";
import { createMemorySwitch, type MemorySwitch } from "@sessionoffload/switch-backend";
import { createStatsServer } from "../src";
import { spec, statsClient } from "./support";

// Enough to outrun every buffer between the two ends many times over (BOUND), small enough for a busy 2-core CI.
const TOTAL = 200_000;
// What the server may have handed to the stream while the client reads nothing:
// the stream's own buffer plus what HTTP/2 flow control lets through.
const BOUND = 50_000;

let backend: MemorySwitch | undefined;
let server: OffloadServer | undefined;
let client: sessionsV1.SessionStatisticsTableClient | undefined;

afterEach(async () => {
  client?.close();
  await server?.shutdown();
  backend?.close();
});

// Resolves when `read()` has not changed for `checks` looks `everyMs` apart.
async function settled(read: () => number, checks = 5, everyMs = 100): Promise<number> {
  let last = -1;
  let same = 0;
  while (same < checks) {
    await new Promise((r) => setTimeout(r, everyMs));
    const now = read();
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return last;
}

describe("getAllSessions flow control", () => {
  it("stops writing while a reader of 200,000 sessions is paused, then delivers them all in order", async () => {
    backend = createMemorySwitch({ capacity: TOTAL, traffic: false, tickIntervalMs: 0 });
    for (let n = 0; n < TOTAL; n += 1) backend.add(spec(n));
    expect(backend.size()).toBe(TOTAL);
    let written = 0;
    server = createStatsServer({
      backend,
      credentials: createInsecureCredentials(),
      hooks: { onWrite: () => (written += 1) },
    });
    client = statsClient(await server.listen("127.0.0.1:0"));

    const stream = client.getAllSessions({ pageSize: 0 });
    let received = 0;
    let outOfOrder = 0;
    let firstSeen: () => void = () => undefined;
    const first = new Promise<void>((resolve) => (firstSeen = resolve));
    const ended = new Promise<string>((resolve) => {
      stream.on("data", (m: sessionsV1.sessionResponse) => {
        received += 1;
        if (m.sessionId !== BigInt(received)) outOfOrder += 1;
        if (received === 1) {
          stream.pause();
          firstSeen();
        }
      });
      stream.on("error", (e: Error) => resolve(e.message));
      stream.on("end", () => resolve("OK"));
    });
    await first;
    const stalledAt = await settled(() => written);
    expect(received).toBe(1);
    expect(stalledAt).toBeGreaterThan(1);
    expect(stalledAt).toBeLessThan(BOUND);

    stream.resume();
    expect(await ended).toBe("OK");
    expect(received).toBe(TOTAL);
    expect(outOfOrder).toBe(0);
    expect(written).toBe(TOTAL);
  }, 180_000);
});

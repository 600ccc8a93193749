import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFakeClock, type MemorySwitch, type SwitchBackend } from "@sessionoffload/switch-backend";
import { SqliteSwitchOpenError } from "@sessionoffload/switch-sqlite";
import type { SessionSpec } from "@sessionoffload/offload-api";
import { createBackend, type BackendConfig } from "../src";

const spec = (n: number, protocol: "tcp" | "udp" = "tcp"): SessionSpec => ({
  inLif: "",
  outLif: "",
  ipVersion: "ipv4",
  sourceIp: Uint8Array.of(10, 0, 0, n),
  sourcePort: 1000,
  destinationIp: Uint8Array.of(10, 0, 1, 1),
  destinationPort: 53,
  protocol,
  action: "forward",
  nextHop: "",
});

let backend: SwitchBackend | undefined;
afterEach(async () => {
  await backend?.close();
  backend = undefined;
});

// The memory switch behind the SwitchBackend seam, with its test controls.
async function memory(config: Omit<BackendConfig, "kind">, clock = createFakeClock()): Promise<MemorySwitch> {
  backend = await createBackend({ kind: "memory", ...config }, { clock });
  return backend as MemorySwitch;
}

describe("createBackend(memory)", () => {
  it("--max-sessions caps the table", async () => {
    const sw = await memory({ maxSessions: 2, traffic: false });
    expect([sw.add(spec(1)).kind, sw.add(spec(2)).kind, sw.add(spec(3)).kind]).toEqual([
      "accepted",
      "accepted",
      "tableFull",
    ]);
  });

  it("idle timeouts (given in ms) end idle sessions; --traffic off keeps counters at 0", async () => {
    const clock = createFakeClock();
    const sw = await memory({ traffic: false, tcpIdleTimeoutMs: 1500, udpIdleTimeoutMs: 250 }, clock);
    const tcp = sw.add(spec(1, "tcp"));
    const udp = sw.add(spec(2, "udp"));
    if (tcp.kind !== "accepted" || udp.kind !== "accepted") throw new Error("not accepted");
    clock.advance(300);
    sw.step();
    expect(sw.get(udp.session.id)).toMatchObject({ state: "closed", closeCode: "timeout" });
    expect(sw.get(tcp.session.id)?.state).toBe("established");
    clock.advance(1300);
    sw.step();
    expect(sw.get(tcp.session.id)).toMatchObject({
      state: "closed",
      closeCode: "timeout",
      inPackets: 0n,
      outBytes: 0n,
    });
  });

  it("--traffic on moves counters, the same way for the same --seed", async () => {
    const run = async (seed: number): Promise<bigint[]> => {
      const clock = createFakeClock();
      const sw = await memory({ traffic: true, seed }, clock);
      const ids: bigint[] = [];
      for (let n = 1; n <= 20; n += 1) {
        const r = sw.add(spec(n));
        if (r.kind === "accepted") ids.push(r.session.id);
      }
      for (let i = 0; i < 5; i += 1) {
        clock.advance(1000);
        sw.step();
      }
      const bytes = ids.map((id) => sw.get(id)?.inBytes ?? -1n);
      sw.close();
      return bytes;
    };
    const a = await run(7);
    expect(a.some((b) => b > 0n)).toBe(true);
    expect(await run(7)).toEqual(a);
  });
});

describe("createBackend(sqlite)", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "offload-backend-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps the table in the --db file: a second switch on the same file sees it", async () => {
    const path = join(dir, "switch.db");
    const first = await createBackend({ kind: "sqlite", dbPath: path, traffic: false, maxSessions: 5 });
    const added = await first.add(spec(1));
    if (added.kind !== "accepted") throw new Error(`not accepted: ${added.kind}`);
    const second = await createBackend({ kind: "sqlite", dbPath: path, traffic: false, maxSessions: 5 });
    try {
      expect((await second.get(added.session.id))?.state).toBe("established");
    } finally {
      await second.close();
      await first.close();
    }
  });

  it("refuses a file that is not its database, leaving it untouched", async () => {
    const path = join(dir, "notes.db");
    writeFileSync(path, "not a database\n");
    await expect(createBackend({ kind: "sqlite", dbPath: path, traffic: false })).rejects.toThrow(
      SqliteSwitchOpenError,
    );
    expect(readFileSync(path, "utf8")).toBe("not a database\n");
  });
});

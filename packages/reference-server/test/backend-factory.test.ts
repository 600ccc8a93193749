import { afterEach, describe, expect, it } from "@jest/globals";
import { createFakeClock, type MemorySwitch, type SwitchBackend } from "@sessionoffload/switch-backend";
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
function memory(config: Omit<BackendConfig, "kind">, clock = createFakeClock()): MemorySwitch {
  backend = createBackend({ kind: "memory", ...config }, { clock });
  return backend as MemorySwitch;
}

describe("createBackend(memory)", () => {
  it("--max-sessions caps the table", () => {
    const sw = memory({ maxSessions: 2, traffic: false });
    expect([sw.add(spec(1)).kind, sw.add(spec(2)).kind, sw.add(spec(3)).kind]).toEqual([
      "accepted",
      "accepted",
      "tableFull",
    ]);
  });

  it("idle timeouts (given in ms) end idle sessions; --traffic off keeps counters at 0", () => {
    const clock = createFakeClock();
    const sw = memory({ traffic: false, tcpIdleTimeoutMs: 1500, udpIdleTimeoutMs: 250 }, clock);
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

  it("--traffic on moves counters, the same way for the same --seed", () => {
    const run = (seed: number): bigint[] => {
      const clock = createFakeClock();
      const sw = memory({ traffic: true, seed }, clock);
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
    const a = run(7);
    expect(a.some((b) => b > 0n)).toBe(true);
    expect(run(7)).toEqual(a);
  });
});

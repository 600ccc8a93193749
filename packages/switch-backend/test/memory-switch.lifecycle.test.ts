import { afterEach, describe, expect, it, jest } from "@jest/globals";
import type { Session } from "@sessionoffload/offload-api";
import {
  createFakeClock,
  createMemorySwitch,
  type FakeClock,
  type MemorySwitch,
  type MemorySwitchOptions,
} from "@sessionoffload/switch-backend";
import { conformanceSpec } from "@sessionoffload/switch-backend/conformance";

const opened: MemorySwitch[] = [];

function open(options: MemorySwitchOptions & { clock: FakeClock }): MemorySwitch {
  const sw = createMemorySwitch({ tickIntervalMs: 0, traffic: false, ...options });
  opened.push(sw);
  return sw;
}

afterEach(() => {
  for (const sw of opened.splice(0)) sw.close();
  jest.useRealTimers();
});

function idOf(sw: MemorySwitch, n: number, protocol: "tcp" | "udp" = "tcp"): bigint {
  const result = sw.add(conformanceSpec(n, { protocol }));
  if (result.kind !== "accepted") throw new Error(result.kind);
  return result.session.id;
}

describe("TCP FIN handshake", () => {
  it("passes closing1 and closing2, stays live (and a duplicate) until the last ACK, then closes with finAck", () => {
    const clock = createFakeClock();
    const sw = open({ clock });
    const id = idOf(sw, 1);
    expect(sw.finStep(id)).toBe("closing1");
    expect(sw.get(id)).toMatchObject({ state: "closing1", closeCode: "notClosed", endTime: undefined });
    expect(sw.add(conformanceSpec(1))).toEqual({ kind: "alreadyExists", id });
    clock.advance(5);
    expect(sw.finStep(id)).toBe("closing2");
    expect(sw.get(id)).toMatchObject({ state: "closing2", closeCode: "notClosed", endTime: undefined });
    clock.advance(5);
    expect(sw.finStep(id)).toBe("closed");
    expect(sw.get(id)).toMatchObject({ state: "closed", closeCode: "finAck", endTime: clock.now() });
    expect(sw.takeClosed(5).sessions.map((s) => s.id)).toEqual([id]);
    expect(() => sw.finStep(id)).toThrow(/already ended/);
  });

  it("refuses a FIN or RST on a UDP session, and unknown ids", () => {
    const sw = open({ clock: createFakeClock() });
    const id = idOf(sw, 1, "udp");
    expect(() => sw.finStep(id)).toThrow(/UDP/);
    expect(() => sw.endSession(id, "rst")).toThrow(/UDP/);
    expect(() => sw.endSession(id + 1n, "timeout")).toThrow(/no session with id/);
  });

  it("ends a session with RST at the clock's time", () => {
    const clock = createFakeClock();
    const sw = open({ clock });
    const id = idOf(sw, 1);
    clock.advance(42);
    sw.endSession(id, "rst");
    expect(sw.get(id)).toMatchObject({ state: "closed", closeCode: "rst", endTime: clock.now() });
  });
});

describe("idle timeouts", () => {
  it("ends UDP and TCP sessions after their own idle timeouts, only when stepped", () => {
    const clock = createFakeClock();
    const sw = open({ clock, tcpIdleTimeoutMs: 10_000, udpIdleTimeoutMs: 1_000 });
    const tcp = idOf(sw, 1, "tcp");
    const udp = idOf(sw, 2, "udp");
    clock.advance(999);
    sw.step();
    expect(sw.get(udp)?.state).toBe("established");
    clock.advance(1);
    expect(sw.get(udp)?.state).toBe("established");
    sw.step();
    expect(sw.get(udp)).toMatchObject({ state: "closed", closeCode: "timeout", endTime: clock.now() });
    expect(sw.get(tcp)?.state).toBe("established");
    clock.advance(8_999);
    sw.step();
    expect(sw.get(tcp)?.state).toBe("established");
    clock.advance(1);
    sw.step();
    expect(sw.get(tcp)).toMatchObject({ state: "closed", closeCode: "timeout", endTime: clock.now() });
  });

  it("refreshes the idle timer on traffic", () => {
    const clock = createFakeClock();
    const sw = open({ clock, udpIdleTimeoutMs: 1_000 });
    const a = idOf(sw, 1, "udp");
    const b = idOf(sw, 2, "udp");
    clock.advance(900);
    sw.addTraffic(a, { inPackets: 1n, outPackets: 0n, inBytes: 100n, outBytes: 0n });
    clock.advance(100);
    sw.step();
    expect(sw.get(a)?.state).toBe("established");
    expect(sw.get(b)?.closeCode).toBe("timeout");
    clock.advance(899);
    sw.step();
    expect(sw.get(a)?.state).toBe("established");
    clock.advance(1);
    sw.step();
    expect(sw.get(a)?.closeCode).toBe("timeout");
  });

  it("times out a half-closed TCP session that never finishes its handshake", () => {
    const clock = createFakeClock();
    const sw = open({ clock, tcpIdleTimeoutMs: 500 });
    const id = idOf(sw, 1);
    sw.finStep(id);
    clock.advance(500);
    sw.step();
    expect(sw.get(id)).toMatchObject({ state: "closed", closeCode: "timeout" });
  });

  it("ends sessions only by timeout when the traffic model is off; counters stay 0", () => {
    const clock = createFakeClock();
    const sw = open({ clock, traffic: false, tcpIdleTimeoutMs: 50_000 });
    for (let i = 0; i < 50; i++) idOf(sw, i);
    for (let i = 0; i < 49; i++) {
      clock.advance(1000);
      sw.step();
    }
    for (const s of sw.sessions()) expect(s).toMatchObject({ state: "established", inPackets: 0n, outBytes: 0n });
    clock.advance(1000);
    sw.step();
    for (const s of sw.sessions()) expect(s).toMatchObject({ state: "closed", closeCode: "timeout" });
  });
});

describe("traffic model", () => {
  it("counts packets and bytes in both directions, with byte counts between the packet size bounds", () => {
    const clock = createFakeClock();
    const sw = open({ clock, traffic: { finProbability: 0, rstProbability: 0, samplesPerTick: 200 } });
    for (let i = 0; i < 20; i++) idOf(sw, i);
    for (let t = 0; t < 20; t++) {
      clock.advance(1000);
      sw.step();
    }
    const all = [...sw.sessions()];
    expect(all.every((s) => s.state === "established")).toBe(true);
    expect(all.some((s) => s.inPackets > 0n)).toBe(true);
    expect(all.some((s) => s.outPackets > 0n)).toBe(true);
    for (const s of all) {
      expect(s.inBytes).toBeGreaterThanOrEqual(s.inPackets * 64n);
      expect(s.inBytes).toBeLessThanOrEqual(s.inPackets * 1500n);
      expect(s.outBytes).toBeGreaterThanOrEqual(s.outPackets * 64n);
      expect(s.outBytes).toBeLessThanOrEqual(s.outPackets * 1500n);
    }
  });

  it("drives a FIN handshake one step per tick: closing1, closing2, closed/finAck", () => {
    const clock = createFakeClock();
    const sw = open({ clock, traffic: { finProbability: 1, rstProbability: 0, samplesPerTick: 1 } });
    const id = idOf(sw, 1);
    const states: string[] = [];
    for (let t = 0; t < 3; t++) {
      clock.advance(1000);
      sw.step();
      states.push(sw.get(id)?.state ?? "gone");
    }
    expect(states).toEqual(["closing1", "closing2", "closed"]);
    expect(sw.get(id)).toMatchObject({ closeCode: "finAck", endTime: clock.now() });
  });

  it("resets TCP sessions but never UDP ones", () => {
    const clock = createFakeClock();
    const sw = open({ clock, traffic: { finProbability: 0, rstProbability: 1, samplesPerTick: 100 } });
    const tcp = idOf(sw, 1, "tcp");
    const udp = idOf(sw, 2, "udp");
    clock.advance(1000);
    sw.step();
    expect(sw.get(tcp)).toMatchObject({ state: "closed", closeCode: "rst" });
    expect(sw.get(udp)?.state).toBe("established");
    expect(sw.get(udp)?.inPackets).toBeGreaterThan(0n);
  });

  function simulate(seed: number): Session[] {
    const clock = createFakeClock();
    const sw = open({ clock, seed, traffic: { finProbability: 0.05, rstProbability: 0.02, samplesPerTick: 30 } });
    for (let i = 0; i < 40; i++) idOf(sw, i, i % 3 === 0 ? "udp" : "tcp");
    for (let t = 0; t < 30; t++) {
      clock.advance(1000);
      sw.step();
    }
    return [...sw.sessions()];
  }

  it("is deterministic for a seed and differs between seeds", () => {
    const a = simulate(7);
    expect(simulate(7)).toEqual(a);
    expect(a.some((s) => s.closeCode === "finAck")).toBe(true);
    expect(a.some((s) => s.closeCode === "rst")).toBe(true);
    expect(simulate(8)).not.toEqual(a);
  });

  it("runs on its timer when tickIntervalMs > 0, and stops on close", () => {
    jest.useFakeTimers();
    const clock = createFakeClock();
    const sw = createMemorySwitch({ clock, tickIntervalMs: 1000, traffic: { samplesPerTick: 10, finProbability: 0 } });
    try {
      const id = idOf(sw, 1);
      jest.advanceTimersByTime(999);
      expect(sw.get(id)?.inPackets).toBe(0n);
      jest.advanceTimersByTime(5000);
      const counted = sw.get(id)?.inPackets ?? 0n;
      expect(counted + (sw.get(id)?.outPackets ?? 0n)).toBeGreaterThan(0n);
    } finally {
      sw.close();
    }
    expect(jest.getTimerCount()).toBe(0);
    expect(() => sw.get(1n)).toThrow(/closed/);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ValidationError, parseAddress } from "@sessionoffload/offload-api";
import type { Clock, SessionSpec } from "@sessionoffload/offload-api";
import { createNftablesSwitch } from "../src/nftables-switch";
import type { NftablesSwitch } from "../src/nftables-switch";
import { createTopology, netnsUnavailableReason, sh } from "./netns/topology";
import type { Topology } from "./netns/topology";
import { runTraffic } from "./netns/run-in";

const skipReason = netnsUnavailableReason();

function spec(
  over: Partial<SessionSpec> & Pick<SessionSpec, "sourcePort" | "destinationPort">,
  topo: Topology,
  v: "v4" | "v6" = "v4",
): SessionSpec {
  return {
    inLif: "",
    outLif: "",
    ipVersion: v === "v4" ? "ipv4" : "ipv6",
    sourceIp: parseAddress(topo.clientAddr[v]).bytes,
    destinationIp: parseAddress(topo.serverAddr[v]).bytes,
    protocol: "udp",
    action: "forward",
    nextHop: "",
    ...over,
  };
}

/** A clock the test moves by hand. */
function manualClock(): Clock & { advanceMs(ms: number): void } {
  let now = 1_700_000_000_000_000_000n;
  return { now: () => now, advanceMs: (ms) => (now += BigInt(ms) * 1_000_000n) };
}

async function sendUdp(topo: Topology, v: "v4" | "v6", sport: number, dport: number, count: number, size: number) {
  const recv = runTraffic(topo.server, "udp-recv", [topo.serverAddr[v], dport, 1500]);
  await recv.ready;
  await runTraffic(topo.client, "udp-send", [topo.clientAddr[v], sport, topo.serverAddr[v], dport, count, size]).result;
  return (await recv.result) as { packets: number; bytes: number };
}

describe("nftables switch with real packets", () => {
  let topo: Topology | undefined;
  let reason: string | undefined;
  const switches: NftablesSwitch[] = [];

  beforeAll(async () => {
    reason = await skipReason;
    if (reason !== undefined) {
      console.log(`skipped: ${reason}`);
      return;
    }
    topo = await createTopology();
  }, 30_000);

  afterAll(async () => {
    for (const s of switches)
      await Promise.resolve()
        .then(() => s.close())
        .catch(() => undefined);
    await topo?.destroy();
  });

  async function make(
    opts: { capacity?: number; clock?: Clock; idleTimeoutMs?: number } = {},
  ): Promise<NftablesSwitch> {
    const s = await createNftablesSwitch({
      capacity: opts.capacity ?? 100,
      netns: (topo as Topology).sw,
      tableName: `so_test_${switches.length}`,
      pollIntervalMs: 0,
      clock: opts.clock,
      idleTimeoutMs: opts.idleTimeoutMs,
    });
    switches.push(s);
    return s;
  }

  /** Skips a test body (with the printed reason) where real packets cannot run. */
  function live(name: string, body: (t: Topology) => Promise<void>, timeout = 30_000): void {
    it(
      name,
      async () => {
        if (reason !== undefined || topo === undefined) return;
        await body(topo);
      },
      timeout,
    );
  }

  const ipOverhead = { v4: 20 + 8, v6: 40 + 8 };

  for (const v of ["v4", "v6"] as const) {
    live(`FORWARD (${v}): packets arrive and the kernel counters equal what was sent`, async (t) => {
      const s = await make();
      const r = await s.add(spec({ sourcePort: 41000, destinationPort: 5000, action: "forward" }, t, v));
      if (r.kind !== "accepted") throw new Error(r.kind);
      const got = await sendUdp(t, v, 41000, 5000, 7, 100);
      expect(got).toEqual({ packets: 7, bytes: 700 });
      const after = await s.get(r.session.id);
      expect(after).toMatchObject({
        inPackets: 7n,
        inBytes: BigInt(7 * (100 + ipOverhead[v])),
        outPackets: 0n,
        outBytes: 0n,
      });
      const listed = [];
      for await (const x of s.sessions()) listed.push(x);
      expect(listed.map((x) => [x.id, x.inPackets])).toEqual([[r.session.id, 7n]]);
      await s.close();
    });

    live(`DROP (${v}): packets never arrive, and are counted`, async (t) => {
      const s = await make();
      const r = await s.add(spec({ sourcePort: 41001, destinationPort: 5001, action: "drop" }, t, v));
      if (r.kind !== "accepted") throw new Error(r.kind);
      expect(await sendUdp(t, v, 41001, 5001, 5, 50)).toEqual({ packets: 0, bytes: 0 });
      expect(await s.get(r.session.id)).toMatchObject({ inPackets: 5n, inBytes: BigInt(5 * (50 + ipOverhead[v])) });
      // deleteSession removes the kernel state at once: the same traffic now passes.
      const deleted = await s.delete(r.session.id);
      expect(deleted).toMatchObject({ state: "closing1", inPackets: 5n });
      expect(await sendUdp(t, v, 41001, 5001, 3, 50)).toEqual({ packets: 3, bytes: 150 });
      expect(await s.get(r.session.id)).toBeUndefined();
      await s.close();
    });

    live(`MIRROR (${v}): packets arrive and copies reach the mirror host`, async (t) => {
      const cap = `cap_${v}`;
      const l3 = v === "v4" ? "ip" : "ip6";
      await sh("ip", ["netns", "exec", t.mirror, "nft", `add table inet ${cap}`]);
      await sh("ip", [
        "netns",
        "exec",
        t.mirror,
        "nft",
        `add chain inet ${cap} pre { type filter hook prerouting priority -300; }`,
      ]);
      await sh("ip", [
        "netns",
        "exec",
        t.mirror,
        "nft",
        `add rule inet ${cap} pre ${l3} daddr ${t.serverAddr[v]} udp dport 5002 counter`,
      ]);
      const s = await make();
      const r = await s.add(
        spec({ sourcePort: 41002, destinationPort: 5002, action: "mirror", nextHop: t.mirrorAddr[v] }, t, v),
      );
      if (r.kind !== "accepted") throw new Error(r.kind);
      expect(await sendUdp(t, v, 41002, 5002, 4, 10)).toEqual({ packets: 4, bytes: 40 });
      const ruleset = await sh("ip", ["netns", "exec", t.mirror, "nft", "list", "table", "inet", cap]);
      expect(/counter packets (\d+)/.exec(ruleset)?.[1]).toBe("4");
      await sh("ip", ["netns", "exec", t.mirror, "nft", "delete", "table", "inet", cap]);
      await s.close();
    });
  }

  for (const [how, code] of [
    ["fin", "finAck"],
    ["rst", "rst"],
  ] as const) {
    live(`TCP ${how.toUpperCase()} ends the session with ${code}`, async (t) => {
      const s = await make();
      const sport = how === "fin" ? 42000 : 42001;
      const r = await s.add(spec({ sourcePort: sport, destinationPort: 6000, protocol: "tcp" }, t));
      if (r.kind !== "accepted") throw new Error(r.kind);
      const server = runTraffic(t.server, "tcp-server", [t.serverAddr.v4, 6000, 5000]);
      await server.ready;
      const client = await runTraffic(t.client, "tcp-client", [
        t.clientAddr.v4,
        sport,
        t.serverAddr.v4,
        6000,
        3000,
        how,
      ]).result;
      expect(client).toEqual({ closed: how });
      const seen = (await server.result) as { bytes: number };
      expect(seen.bytes).toBe(3000);
      await s.poll();
      const lease = await s.takeClosed(10);
      expect(lease.sessions.map((x) => [x.id, x.state, x.closeCode])).toEqual([[r.session.id, "closed", code]]);
      const ended = lease.sessions[0];
      expect(ended?.inPackets).toBeGreaterThan(2n);
      expect(ended?.outPackets).toBeGreaterThan(1n);
      expect(ended?.inBytes).toBeGreaterThan(3000n);
      expect(ended?.endTime).toBeDefined();
      await lease.settle(lease.sessions.map((x) => x.id));
      expect((await s.takeClosed(10)).sessions).toEqual([]);
      expect(await s.size()).toBe(0);
      await s.close();
    });
  }

  live("no packet for the idle timeout ends the session with timeout; traffic refreshes it", async (t) => {
    const clock = manualClock();
    const s = await make({ clock, idleTimeoutMs: 10_000 });
    const r = await s.add(spec({ sourcePort: 43000, destinationPort: 7000 }, t));
    if (r.kind !== "accepted") throw new Error(r.kind);
    clock.advanceMs(8_000);
    await sendUdp(t, "v4", 43000, 7000, 1, 10);
    await s.poll(); // traffic seen at t=8s
    clock.advanceMs(8_000);
    await s.poll(); // 8s idle: still live
    expect(await s.get(r.session.id)).toMatchObject({ state: "established", closeCode: "notClosed", inPackets: 1n });
    clock.advanceMs(2_000);
    await s.poll(); // 10s idle
    const lease = await s.takeClosed(5);
    expect(lease.sessions.map((x) => [x.closeCode, x.inPackets])).toEqual([["timeout", 1n]]);
    await lease.settle([]);
    // Not settled: handed out again, exactly once after settle.
    const again = await s.takeClosed(5);
    expect(again.sessions.map((x) => x.id)).toEqual([r.session.id]);
    await again.settle([r.session.id]);
    expect(await s.get(r.session.id)).toBeUndefined();
    await s.close();
  });

  live("capacity, 7-tuple duplicates and interface names", async (t) => {
    const s = await make({ capacity: 2 });
    const a = await s.add(spec({ sourcePort: 44000, destinationPort: 8000 }, t));
    expect(a.kind).toBe("accepted");
    const dup = await s.add(spec({ sourcePort: 44000, destinationPort: 8000 }, t));
    expect(dup).toEqual({ kind: "alreadyExists", id: a.kind === "accepted" ? a.session.id : 0n });
    const withLif = await s.add(spec({ sourcePort: 44000, destinationPort: 8000, inLif: "eth0" }, t));
    expect(withLif.kind).toBe("accepted");
    expect(await s.add(spec({ sourcePort: 44001, destinationPort: 8000 }, t))).toEqual({ kind: "tableFull" });
    expect(await s.size()).toBe(2);
    await expect(
      s.add(spec({ sourcePort: 1, destinationPort: 2, inLif: "a-name-that-is-too-long" }, t)),
    ).rejects.toThrow(ValidationError);
    await expect(
      s.add(spec({ sourcePort: 1, destinationPort: 2, action: "mirror", nextHop: "2001:db8::9" }, t)),
    ).rejects.toThrow(/action.actionNextHop/);
    await s.close();
  });

  live("inLif/outLif: the session only matches packets entering and leaving by those interfaces", async (t) => {
    const s = await make();
    // DROP only what enters by the client-side interface and leaves to the server.
    const wrong = await s.add(
      spec({ sourcePort: 45000, destinationPort: 9000, action: "drop", inLif: t.swToServer }, t),
    );
    expect(wrong.kind).toBe("accepted");
    expect(await sendUdp(t, "v4", 45000, 9000, 2, 10)).toEqual({ packets: 2, bytes: 20 });
    const right = await s.add(
      spec({ sourcePort: 45001, destinationPort: 9000, action: "drop", inLif: t.swToClient, outLif: t.swToServer }, t),
    );
    expect(right.kind).toBe("accepted");
    expect(await sendUdp(t, "v4", 45001, 9000, 2, 10)).toEqual({ packets: 0, bytes: 0 });
    await s.close();
  });

  live("close removes the switch's tables and touches no other table", async (t) => {
    await sh("ip", ["netns", "exec", t.sw, "nft", "add", "table", "inet", "someone_else"]);
    const s = await make();
    await expect(
      createNftablesSwitch({ capacity: 1, netns: t.sw, tableName: s.tableName, pollIntervalMs: 0 }),
    ).rejects.toThrow(/already exists/);
    await s.close();
    const tables = await sh("ip", ["netns", "exec", t.sw, "nft", "list", "tables"]);
    expect(tables).toContain("table inet someone_else");
    expect(tables).not.toContain(s.tableName);
    await sh("ip", ["netns", "exec", t.sw, "nft", "delete", "table", "inet", "someone_else"]);
  });
});

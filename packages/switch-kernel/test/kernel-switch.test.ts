import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ValidationError, parseAddress, type Clock, type SessionSpec } from "@sessionoffload/offload-api";
import { createKernelSwitch, type KernelSwitch } from "../src";
import { openConntrack } from "../src/netlink";
import { createTopology, netnsUnavailableReasonSync, sh, type Topology } from "./netns/topology";
import { sendUdp } from "./netns/packets";
import { runTraffic } from "./netns/run-in";

const skipReason = netnsUnavailableReasonSync();
// Where real packets cannot run, the suite is reported as skipped, with the reason.
const describeLive = skipReason === undefined ? describe : describe.skip;
if (skipReason !== undefined) console.log(`kernel switch tests skipped: ${skipReason}`);

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

describeLive("kernel switch with real packets", () => {
  let topo: Topology | undefined;
  let reason: string | undefined;
  const switches: KernelSwitch[] = [];

  beforeAll(async () => {
    reason = skipReason;
    if (reason !== undefined) return;
    topo = await createTopology();
  }, 30_000);

  afterAll(async () => {
    for (const s of switches)
      await Promise.resolve()
        .then(() => s.close())
        .catch(() => undefined);
    await topo?.destroy();
  });

  async function make(opts: { capacity?: number; clock?: Clock; idleTimeoutMs?: number } = {}): Promise<KernelSwitch> {
    // The test drives the switch: no timers; it reads events (pollEvents) and reaps idle sessions (reap).
    const s = await createKernelSwitch({
      capacity: opts.capacity ?? 100,
      netns: (topo as Topology).sw,
      tableName: `so_test_${switches.length}`,
      reapIntervalMs: 0,
      eventPollMs: 0,
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
      await s.pollEvents();
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
    await s.reap(); // traffic seen at t=8s
    clock.advanceMs(8_000);
    await s.reap(); // 8s idle: still live
    expect(await s.get(r.session.id)).toMatchObject({ state: "established", closeCode: "notClosed", inPackets: 1n });
    clock.advanceMs(2_000);
    await s.reap(); // 10s idle
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
    // Conntrack keys a flow by its 5-tuple: the same one with other interfaces cannot be held as well.
    await expect(s.add(spec({ sourcePort: 44000, destinationPort: 8000, inLif: "eth0" }, t))).rejects.toThrow(/inLif/);
    await expect(
      s.add(
        spec(
          {
            sourcePort: 8000,
            destinationPort: 44000,
            sourceIp: parseAddress(t.serverAddr.v4).bytes,
            destinationIp: parseAddress(t.clientAddr.v4).bytes,
          },
          t,
        ),
      ),
    ).rejects.toThrow(ValidationError);
    expect((await s.add(spec({ sourcePort: 44002, destinationPort: 8000 }, t))).kind).toBe("accepted");
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

  live("many flows, v4 and v6: each counts its own packets in each direction", async (t) => {
    const s = await make();
    const added: { id: bigint; sport: number; v: "v4" | "v6" }[] = [];
    for (const v of ["v4", "v6"] as const) {
      for (let i = 0; i < 6; i++) {
        const sport = 46000 + i;
        const r = await s.add(spec({ sourcePort: sport, destinationPort: 9100, action: "drop" }, t, v));
        if (r.kind !== "accepted") throw new Error(r.kind);
        added.push({ id: r.session.id, sport, v });
      }
    }
    // DROP sessions: the packets go nowhere, and each entry counts its own.
    for (const a of added) {
      await runTraffic(t.client, "udp-send", [t.clientAddr[a.v], a.sport, t.serverAddr[a.v], 9100, 2, 10]).result;
      await runTraffic(t.server, "udp-send", [t.serverAddr[a.v], 9100, t.clientAddr[a.v], a.sport, 1, 10]).result;
    }
    for (const a of added) {
      expect(await s.get(a.id)).toMatchObject({ inPackets: 2n, outPackets: 1n });
    }
    const listed = [];
    for await (const x of s.sessions()) listed.push([x.id, x.inPackets, x.outPackets]);
    expect(listed).toEqual(added.map((a) => [a.id, 2n, 1n]));
    await s.close();
  });

  live("a flow that passed before it was offloaded is taken over, with counters from zero", async (t) => {
    const s = await make();
    // The default path forwards it, and conntrack tracks it (an entry the switch did not make).
    expect(await sendUdp(t, "v4", 47000, 9200, 3, 10)).toEqual({ packets: 3, bytes: 30 });
    const r = await s.add(spec({ sourcePort: 47000, destinationPort: 9200, action: "drop" }, t));
    if (r.kind !== "accepted") throw new Error(r.kind);
    expect(await sendUdp(t, "v4", 47000, 9200, 2, 10)).toEqual({ packets: 0, bytes: 0 });
    expect(await s.get(r.session.id)).toMatchObject({ inPackets: 2n, outPackets: 0n });
    // A delete gives the flow back at once: nothing stale keeps dropping it.
    expect(await s.delete(r.session.id)).toMatchObject({ state: "closing1", inPackets: 2n });
    expect(await sendUdp(t, "v4", 47000, 9200, 2, 10)).toEqual({ packets: 2, bytes: 20 });
    await s.close();
  });

  live(
    "a restart over a kernel that holds an earlier run's sessions removes them: the flows take the default path",
    async (t) => {
      const first = await make();
      const r = await first.add(spec({ sourcePort: 47100, destinationPort: 9300, action: "drop" }, t));
      if (r.kind !== "accepted") throw new Error(r.kind);
      expect(await sendUdp(t, "v4", 47100, 9300, 1, 10)).toEqual({ packets: 0, bytes: 0 });
      // The first run dies without closing (its sockets stay open here; the kernel state is what matters).
      const second = await createKernelSwitch({
        capacity: 10,
        netns: t.sw,
        tableName: first.tableName,
        reapIntervalMs: 0,
        eventPollMs: 0,
      });
      switches.push(second);
      expect(second.cleanedAtStart).toBe(1);
      expect(await second.size()).toBe(0);
      expect(await sendUdp(t, "v4", 47100, 9300, 2, 10)).toEqual({ packets: 2, bytes: 20 });
      const again = await second.add(spec({ sourcePort: 47100, destinationPort: 9300, action: "drop" }, t));
      expect(again.kind).toBe("accepted");
      expect(await sendUdp(t, "v4", 47100, 9300, 1, 10)).toEqual({ packets: 0, bytes: 0 });
      await second.close();
    },
  );

  live("close removes the switch's tables and touches no other table", async (t) => {
    await sh("ip", ["netns", "exec", t.sw, "nft", "add", "table", "inet", "someone_else"]);
    const s = await make();
    await s.add(spec({ sourcePort: 47200, destinationPort: 9400, action: "drop" }, t));
    await s.close();
    // No conntrack entry with the switch's mark is left behind.
    const kernel = openConntrack({ netns: `/run/netns/${t.sw}` });
    try {
      expect(kernel.dump({ mark: 0x5e00_0000, mask: 0xff00_0000 }, () => undefined)).toBe(0);
    } finally {
      kernel.close();
    }
    const tables = await sh("ip", ["netns", "exec", t.sw, "nft", "list", "tables"]);
    expect(tables).toContain("table inet someone_else");
    expect(tables).not.toContain(s.tableName);
    await sh("ip", ["netns", "exec", t.sw, "nft", "delete", "table", "inet", "someone_else"]);
  });
});

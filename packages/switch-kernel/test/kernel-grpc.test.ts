import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import type { OffloadClient, Session, SessionInput } from "@sessionoffload/offload-api";
import { createFakeClock, type FakeClock } from "@sessionoffload/switch-backend";
import type { KernelSwitch } from "../src";
import { UDP_OVERHEAD, captureOnMirror, sendUdp, sendUdpBack, type IpFamily } from "./netns/packets";
import { runTraffic } from "./netns/run-in";
import { createOffloadWorld, type OffloadWorld } from "./netns/offload-world";
import { netnsUnavailableReasonSync, type Topology } from "./netns/topology";

// End to end: sessions offloaded through the gRPC API (real servers on 127.0.0.1:0, the typed
// client) change what the Linux kernel does to their packets, sent between network namespaces.

const UDP_IDLE_MS = 10_000;

const skipReason = netnsUnavailableReasonSync();
// Where real packets cannot run (not root, no nft, no namespaces), the suite is reported as skipped.
const describeLive = skipReason === undefined ? describe : describe.skip;
if (skipReason !== undefined) console.log(`kernel switch gRPC end-to-end tests skipped: ${skipReason}`);

interface World {
  readonly topo: Topology;
  readonly backend: KernelSwitch;
  readonly clock: FakeClock;
  readonly client: OffloadClient;
}

async function collect(stream: AsyncIterable<Session>): Promise<Session[]> {
  const out: Session[] = [];
  for await (const s of stream) out.push(s);
  return out;
}

describeLive("sessions offloaded through the gRPC API change what the kernel does to their packets", () => {
  let reason: string | undefined;
  let world: World | undefined;
  let made: OffloadWorld | undefined;

  beforeAll(async () => {
    reason = skipReason;
    if (reason !== undefined) return;
    const clock = createFakeClock();
    made = await createOffloadWorld({
      tableName: "so_grpc",
      // The test drives the switch: it reads events (pollEvents) and reaps (reap) after it moved the fake clock.
      reapIntervalMs: 0,
      eventPollMs: 0,
      clock,
      udpIdleTimeoutMs: UDP_IDLE_MS,
      tcpIdleTimeoutMs: 3_600_000,
    });
    world = { ...made, clock };
  }, 60_000);

  afterAll(async () => {
    await made?.close();
  }, 60_000);

  // Every test leaves the table empty: the fake clock is shared, and a leftover session would end idle.
  afterEach(async () => {
    if (world === undefined) return;
    const ids: bigint[] = [];
    for await (const s of world.backend.sessions()) ids.push(s.id);
    for (const id of ids) await world.backend.delete(id);
  });

  /** A test body that runs only where real packets can (root, nft, namespaces). */
  function live(name: string, body: (w: World) => Promise<void>, timeout = 60_000): void {
    it(
      name,
      async () => {
        if (reason !== undefined || world === undefined) return;
        await body(world);
      },
      timeout,
    );
  }

  function udp(w: World, v: IpFamily, sourcePort: number, destinationPort: number): SessionInput {
    return {
      sourceIp: w.topo.clientAddr[v],
      sourcePort,
      destinationIp: w.topo.serverAddr[v],
      destinationPort,
      protocol: "udp",
      action: "forward",
    };
  }

  async function offload(w: World, input: SessionInput): Promise<bigint> {
    const added = await w.client.addSession(input);
    if (added.kind !== "accepted") throw new Error(`addSession answered ${added.kind}`);
    expect(added.session).toMatchObject({ state: "established", closeCode: "notClosed", inPackets: 0n });
    return added.id;
  }

  async function found(w: World, id: bigint): Promise<Session> {
    const got = await w.client.getSession(id);
    if (got.kind !== "found") throw new Error(`getSession(${id}) answered notFound`);
    return got.session;
  }

  for (const v of ["v4", "v6"] as const) {
    live(
      `DROP (${v}) stops the packets, getSession reports the kernel's counters, deleteSession restores the path`,
      async (w) => {
        const [sport, dport] = [40100, 5100];
        // The default path forwards this flow.
        expect(await sendUdp(w.topo, v, sport, dport, 2, 60)).toEqual({ packets: 2, bytes: 120 });

        const id = await offload(w, { ...udp(w, v, sport, dport), action: "drop" });
        expect(await sendUdp(w.topo, v, sport, dport, 5, 60)).toEqual({ packets: 0, bytes: 0 });
        expect(await found(w, id)).toMatchObject({
          state: "established",
          inPackets: 5n,
          inBytes: BigInt(5 * (60 + UDP_OVERHEAD[v])),
          outPackets: 0n,
          outBytes: 0n,
        });

        const deleted = await w.client.deleteSession(id);
        expect(deleted).toMatchObject({ kind: "found", session: { id, state: "closing1", inPackets: 5n } });
        expect(await sendUdp(w.topo, v, sport, dport, 3, 60)).toEqual({ packets: 3, bytes: 180 });
        expect(await w.client.getSession(id)).toEqual({ kind: "notFound" });
        await w.backend.pollEvents();
        expect(await collect(w.client.getClosedSessions())).toEqual([]);
      },
    );

    live(`FORWARD (${v}) passes the packets both ways and counts each direction`, async (w) => {
      const [sport, dport] = [40200, 5200];
      const id = await offload(w, udp(w, v, sport, dport));
      expect(await sendUdp(w.topo, v, sport, dport, 4, 100)).toEqual({ packets: 4, bytes: 400 });
      expect(await sendUdpBack(w.topo, v, dport, sport, 2, 30)).toEqual({ packets: 2, bytes: 60 });
      const expected = {
        inPackets: 4n,
        inBytes: BigInt(4 * (100 + UDP_OVERHEAD[v])),
        outPackets: 2n,
        outBytes: BigInt(2 * (30 + UDP_OVERHEAD[v])),
      };
      expect(await found(w, id)).toMatchObject({ state: "established", ...expected });
      const listed = await collect(w.client.getAllSessions());
      expect(listed.map((s) => s.id)).toEqual([id]);
      expect(listed[0]).toMatchObject(expected);
      expect(await w.client.deleteSession(id)).toMatchObject({ kind: "found", session: expected });
    });

    for (const action of ["mirror", "snoop"] as const) {
      live(`${action.toUpperCase()} (${v}) passes the packets and copies them to the mirror host`, async (w) => {
        const [sport, dport] = [action === "mirror" ? 40300 : 40301, 5300];
        const capture = await captureOnMirror(w.topo, v, dport);
        try {
          // Before the offload the mirror host sees nothing of this flow.
          expect(await sendUdp(w.topo, v, sport, dport, 2, 20)).toEqual({ packets: 2, bytes: 40 });
          expect(await capture.packets()).toBe(0);
          const id = await offload(w, { ...udp(w, v, sport, dport), action, nextHop: w.topo.mirrorAddr[v] });
          expect(await sendUdp(w.topo, v, sport, dport, 4, 20)).toEqual({ packets: 4, bytes: 80 });
          expect(await capture.packets()).toBe(4);
          expect(await found(w, id)).toMatchObject({ inPackets: 4n, inBytes: BigInt(4 * (20 + UDP_OVERHEAD[v])) });
          await w.client.deleteSession(id);
          // Taken back: no more copies.
          expect(await sendUdp(w.topo, v, sport, dport, 3, 20)).toEqual({ packets: 3, bytes: 60 });
          expect(await capture.packets()).toBe(4);
        } finally {
          await capture.remove();
        }
      });
    }
  }

  for (const [how, code, sport] of [
    ["fin", "finAck", 40400],
    ["rst", "rst", 40401],
  ] as const) {
    live(`a TCP ${how.toUpperCase()} ends the session: getClosedSessions reports ${code} exactly once`, async (w) => {
      const { topo } = w;
      const dport = 6400;
      const id = await offload(w, {
        sourceIp: topo.clientAddr.v4,
        sourcePort: sport,
        destinationIp: topo.serverAddr.v4,
        destinationPort: dport,
        protocol: "tcp",
        action: "forward",
      });
      const server = runTraffic(topo.server, "tcp-server", [topo.serverAddr.v4, dport, 5000]);
      await server.ready;
      const client = await runTraffic(topo.client, "tcp-client", [
        topo.clientAddr.v4,
        sport,
        topo.serverAddr.v4,
        dport,
        2000,
        how,
      ]).result;
      expect(client).toEqual({ closed: how });
      expect(await server.result).toMatchObject({ bytes: 2000 });

      // getSession reads the kernel's pending events first: the session is ended by now.
      await w.backend.pollEvents();
      expect(await found(w, id)).toMatchObject({ state: "closed", closeCode: code });

      // Two collectors at once: the session reaches exactly one of them, once.
      const [a, b] = await Promise.all([collect(w.client.getClosedSessions()), collect(w.client.getClosedSessions())]);
      const ended = [...a, ...b];
      expect(ended.map((s) => [s.id, s.state, s.closeCode])).toEqual([[id, "closed", code]]);
      expect(ended[0]?.inPackets).toBeGreaterThanOrEqual(3n); // SYN, ACK, data, FIN or RST
      expect(ended[0]?.outPackets).toBeGreaterThanOrEqual(1n); // SYN-ACK
      expect(ended[0]?.inBytes).toBeGreaterThan(2000n);
      expect(ended[0]?.endTime).toBeDefined();

      await w.backend.pollEvents();
      expect(await collect(w.client.getClosedSessions())).toEqual([]);
      expect(await w.client.getSession(id)).toEqual({ kind: "notFound" });
      expect(await collect(w.client.getAllSessions())).toEqual([]);
    });
  }

  live(
    "no packet for the idle timeout ends the session (TIMEOUT) and gives the flow back to the default path",
    async (w) => {
      const [sport, dport] = [40500, 5500];
      const id = await offload(w, { ...udp(w, "v4", sport, dport), action: "drop" });
      w.clock.advance(UDP_IDLE_MS - 2_000);
      expect(await sendUdp(w.topo, "v4", sport, dport, 1, 10)).toEqual({ packets: 0, bytes: 0 });
      await w.backend.reap(); // traffic seen: the idle time starts again
      w.clock.advance(UDP_IDLE_MS - 2_000);
      await w.backend.reap();
      expect(await found(w, id)).toMatchObject({ state: "established", inPackets: 1n });
      expect(await collect(w.client.getClosedSessions())).toEqual([]);

      w.clock.advance(2_000);
      await w.backend.reap();
      const ended = await collect(w.client.getClosedSessions());
      expect(ended.map((s) => [s.id, s.closeCode, s.inPackets])).toEqual([[id, "timeout", 1n]]);
      expect(await sendUdp(w.topo, "v4", sport, dport, 2, 10)).toEqual({ packets: 2, bytes: 20 });
      await w.backend.reap();
      expect(await collect(w.client.getClosedSessions())).toEqual([]);
    },
  );
});

describeLive("the switch's own timers, on the real clock, end sessions without anyone driving them", () => {
  const IDLE_MS = 3_000;
  let made: OffloadWorld | undefined;
  const backgroundErrors: unknown[] = [];

  beforeAll(async () => {
    made = await createOffloadWorld({
      tableName: "so_grpc_timers",
      udpIdleTimeoutMs: IDLE_MS,
      onBackgroundError: (err) => backgroundErrors.push(err),
    });
  }, 60_000);

  afterAll(async () => {
    await made?.close();
  }, 60_000);

  async function closedWithin(client: OffloadClient, want: number, ms: number): Promise<Session[]> {
    const ended: Session[] = [];
    const until = Date.now() + ms;
    while (ended.length < want && Date.now() < until) {
      ended.push(...(await collect(client.getClosedSessions())));
      if (ended.length < want) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return ended;
  }

  it("a FIN-closed TCP session and an idle UDP session reach getClosedSessions once each, with final counters", async () => {
    const { topo, client } = made as OffloadWorld;
    const [sport, dport] = [40600, 6600];
    // The UDP sender starts (and binds) before the session exists, and sends when told: no race with its start-up.
    const recv = runTraffic(topo.server, "udp-recv", [topo.serverAddr.v6, dport, 300]);
    const sender = runTraffic(topo.client, "udp-send-on-go", [
      topo.clientAddr.v6,
      sport,
      topo.serverAddr.v6,
      dport,
      2,
      10,
    ]);
    const server = runTraffic(topo.server, "tcp-server", [topo.serverAddr.v4, dport, 10_000]);
    await Promise.all([recv.ready, sender.ready, server.ready]);

    const tcp = await client.addSession({
      sourceIp: topo.clientAddr.v4,
      sourcePort: sport,
      destinationIp: topo.serverAddr.v4,
      destinationPort: dport,
      protocol: "tcp",
      action: "forward",
    });
    const udp = await client.addSession({
      sourceIp: topo.clientAddr.v6,
      sourcePort: sport,
      destinationIp: topo.serverAddr.v6,
      destinationPort: dport,
      protocol: "udp",
      action: "forward",
    });
    if (tcp.kind !== "accepted" || udp.kind !== "accepted") throw new Error(`${tcp.kind} ${udp.kind}`);
    sender.go();
    const sent = (await sender.result) as { sent: number; at: number };
    recv.go();
    expect(sent.sent).toBe(2);
    expect(await recv.result).toEqual({ packets: 2, bytes: 20 });

    const args = [topo.clientAddr.v4, sport, topo.serverAddr.v4, dport, 500, "fin"];
    expect(await runTraffic(topo.client, "tcp-client", args).result).toEqual({ closed: "fin" });
    const finDone = Date.now();
    const [finEnded] = await closedWithin(client, 1, 10_000);
    // The FIN is reported from its conntrack event (read every 20 ms): well within seconds even on a busy machine.
    expect(finEnded).toMatchObject({ id: tcp.id, state: "closed", closeCode: "finAck" });
    expect(Date.now() - finDone).toBeLessThan(5_000);
    expect(finEnded?.inBytes).toBeGreaterThan(500n);

    const [idleEnded] = await closedWithin(client, 1, IDLE_MS + 15_000);
    expect(idleEnded).toMatchObject({
      id: udp.id,
      closeCode: "timeout",
      inPackets: 2n,
      inBytes: BigInt(2 * (10 + UDP_OVERHEAD.v6)),
    });
    // Never before its idle time after the last packet (the switch's clock and Date.now() are the same clock here).
    const endMs = Number((idleEnded?.endTime ?? 0n) / 1_000_000n);
    expect(endMs - sent.at).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(await collect(client.getClosedSessions())).toEqual([]);
    expect(backgroundErrors).toEqual([]);
  }, 60_000);
});

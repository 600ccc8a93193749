import { runTraffic } from "./run-in";
import { sh, type Topology } from "./topology";

/** How long a receiver keeps counting after the sender is done (datagrams still queued or crossing the veths). */
const RECV_GRACE_MS = 300;

/** IP version of a test flow: the topology has an address of each. */
export type IpFamily = "v4" | "v6";

/** What a receiver counted: datagrams and payload bytes. */
export interface Received {
  readonly packets: number;
  readonly bytes: number;
}

/** Bytes the kernel counts per UDP datagram beyond its payload (IP and UDP headers). */
export const UDP_OVERHEAD: Readonly<Record<IpFamily, number>> = { v4: 20 + 8, v6: 40 + 8 };

/**
 * Sends `count` UDP datagrams of `size` bytes from the client host (port
 * `sport`) to the server host (port `dport`) across the switch and answers
 * what the server received (counted until the sender is done, plus RECV_GRACE_MS).
 */
export async function sendUdp(
  topo: Topology,
  v: IpFamily,
  sport: number,
  dport: number,
  count: number,
  size: number,
): Promise<Received> {
  const recv = runTraffic(topo.server, "udp-recv", [topo.serverAddr[v], dport, RECV_GRACE_MS]);
  await recv.ready;
  await runTraffic(topo.client, "udp-send", [topo.clientAddr[v], sport, topo.serverAddr[v], dport, count, size]).result;
  recv.go();
  return (await recv.result) as unknown as Received;
}

/** The same as `sendUdp` in the reverse direction: server host to client host. */
export async function sendUdpBack(
  topo: Topology,
  v: IpFamily,
  sport: number,
  dport: number,
  count: number,
  size: number,
): Promise<Received> {
  const recv = runTraffic(topo.client, "udp-recv", [topo.clientAddr[v], dport, RECV_GRACE_MS]);
  await recv.ready;
  await runTraffic(topo.server, "udp-send", [topo.serverAddr[v], sport, topo.clientAddr[v], dport, count, size]).result;
  recv.go();
  return (await recv.result) as unknown as Received;
}

/** Counts, on the mirror host, the packets of one flow that reach it (an nft counter in a table of its own). */
export interface MirrorCapture {
  /** Packets counted so far. */
  packets(): Promise<number>;
  /** Deletes the capture's table. */
  remove(): Promise<void>;
}

/** Starts counting UDP packets to `daddr`:`dport` that arrive on the mirror host. */
export async function captureOnMirror(topo: Topology, v: IpFamily, dport: number): Promise<MirrorCapture> {
  const table = `cap_${v}_${dport}`;
  const l3 = v === "v4" ? "ip" : "ip6";
  const nft = (script: string): Promise<string> => sh("ip", ["netns", "exec", topo.mirror, "nft", script]);
  await nft(`add table inet ${table}`);
  await nft(`add chain inet ${table} pre { type filter hook prerouting priority -300; }`);
  await nft(`add rule inet ${table} pre ${l3} daddr ${topo.serverAddr[v]} udp dport ${dport} counter`);
  return {
    async packets() {
      const listing = await nft(`list table inet ${table}`);
      const m = /counter packets (\d+)/.exec(listing);
      if (m === null) throw new Error(`no counter in the mirror capture: ${listing}`);
      return Number(m[1]);
    },
    async remove() {
      await nft(`delete table inet ${table}`);
    },
  };
}

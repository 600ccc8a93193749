// How soon the kernel switch reports ends (root only): real packets between network namespaces (the switch
// tests' topology), the switch on its own timers (events read every 20 ms, the idle reaper every 250 ms).
// FIN and RST: from the moment the client sent it to the session's endTime; idle: from the last packet to
// endTime, minus the idle timeout. Final counters are checked against what was sent.
// Run: npx tsx bench/kernel-close-latency.ts [rounds]
import { parseAddress, type Session, type SessionSpec } from "@sessionoffload/offload-api";
import { createKernelSwitch, type KernelSwitch } from "@sessionoffload/switch-kernel";
import { numberFlag, parseCliOrExit } from "../examples/support/cli";
import { runTraffic } from "../packages/switch-kernel/test/netns/run-in";
import { createTopology, type Topology } from "../packages/switch-kernel/test/netns/topology";

const rounds = parseCliOrExit(
  {
    name: "kernel-close-latency",
    help: "usage: npx tsx bench/kernel-close-latency.ts [ROUNDS]   (root)\n  ROUNDS                 rounds of each case (default 5)",
    options: {},
    positionals: true,
  },
  ({ positionals }) => numberFlag("ROUNDS", positionals[0] ?? "5", { min: 1, max: 100, integer: true }) as number,
);

function spec(t: Topology, protocol: "tcp" | "udp", sourcePort: number, idleTimeoutMs = 0): SessionSpec {
  return {
    inLif: "",
    outLif: "",
    ipVersion: "ipv4",
    sourceIp: parseAddress(t.clientAddr.v4).bytes,
    sourcePort,
    destinationIp: parseAddress(t.serverAddr.v4).bytes,
    destinationPort: 7000,
    protocol,
    action: "forward",
    nextHop: "",
    idleTimeoutMs,
  };
}

async function ended(sw: KernelSwitch, id: bigint, withinMs: number): Promise<Session> {
  const until = Date.now() + withinMs;
  while (Date.now() < until) {
    const lease = await sw.takeClosed(100);
    const mine = lease.sessions.find((s) => s.id === id);
    await lease.settle(mine === undefined ? [] : [id]);
    if (mine !== undefined) return mine;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`session ${id} not ended within ${withinMs} ms`);
}

function endMs(s: Session): number {
  return Number((s.endTime ?? 0n) / 1_000_000n);
}

function summary(name: string, values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? NaN;
  return `${name}: median ${median.toFixed(0)} ms, max ${(sorted[sorted.length - 1] ?? NaN).toFixed(0)} ms (${values.length} rounds)`;
}

async function main(): Promise<void> {
  const t = await createTopology();
  const sw = await createKernelSwitch({ capacity: 1000, netns: t.sw, udpIdleTimeoutMs: 2_000 });
  try {
    let port = 30000;
    for (const how of ["fin", "rst"] as const) {
      const lat: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const sport = port++;
        const added = await sw.add(spec(t, "tcp", sport));
        if (added.kind !== "accepted") throw new Error(added.kind);
        const server = runTraffic(t.server, "tcp-server", [t.serverAddr.v4, 7000, 5000]);
        await server.ready;
        const client = runTraffic(t.client, "tcp-client", [
          t.clientAddr.v4,
          sport,
          t.serverAddr.v4,
          7000,
          1000,
          how,
          "timed",
        ]);
        const s = await ended(sw, added.session.id, 10_000);
        const { finAt } = (await client.result) as { finAt: number };
        await server.result;
        if (s.closeCode !== (how === "fin" ? "finAck" : "rst") || s.inBytes < 1000n) {
          throw new Error(`round ${r}: ${s.closeCode}, ${s.inBytes} bytes`);
        }
        lat.push(endMs(s) - finAt);
      }
      console.log(summary(`${how.toUpperCase()} sent -> session ended`, lat));
    }
    for (const idleMs of [2_000, 10_000]) {
      const over: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const sport = port++;
        const recv = runTraffic(t.server, "udp-recv", [t.serverAddr.v4, 7000, 300]);
        const sender = runTraffic(t.client, "udp-send-on-go", [t.clientAddr.v4, sport, t.serverAddr.v4, 7000, 3, 20]);
        await Promise.all([recv.ready, sender.ready]);
        const added = await sw.add(spec(t, "udp", sport, idleMs));
        if (added.kind !== "accepted") throw new Error(added.kind);
        sender.go();
        const { at } = (await sender.result) as { at: number };
        recv.go();
        await recv.result;
        const s = await ended(sw, added.session.id, idleMs + 10_000);
        if (s.closeCode !== "timeout" || s.inPackets !== 3n)
          throw new Error(`round ${r}: ${s.closeCode}, ${s.inPackets} packets`);
        over.push(endMs(s) - at - idleMs);
      }
      console.log(summary(`idle ${idleMs} ms: ended after last packet + idle +`, over));
    }
  } finally {
    await sw.close();
    await t.destroy();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(
    `kernel-close-latency: error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
});

// Benchmark of the nftables switch (root only): batched adds per second into the kernel, the
// time to read the counters of 100,000 sessions, one poll, and getSession's read of one session.
// Runs in a namespace of its own, removed at the end.
// Run: npx tsx bench/nftables-switch.ts [sessions]
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { SessionSpec } from "@sessionoffload/offload-api";
import { createFakeClock } from "@sessionoffload/switch-backend";
import { createNftablesSwitch } from "@sessionoffload/switch-kernel";
import { numberFlag, parseCliOrExit } from "../examples/support/cli";

const total = parseCliOrExit(
  {
    name: "nftables-switch",
    help: "usage: npx tsx bench/nftables-switch.ts [SESSIONS]   (root)\n  SESSIONS               sessions to add (default 100000)",
    options: {},
    positionals: true,
  },
  ({ positionals }) =>
    numberFlag("SESSIONS", positionals[0] ?? "100000", { min: 1, max: 10_000_000, integer: true }) as number,
);
const chunk = 10_000;

function spec(i: number): SessionSpec {
  return {
    inLif: "",
    outLif: "",
    ipVersion: "ipv4",
    sourceIp: Uint8Array.of(198, 51, 100 + (i >> 16 === 0 ? 0 : 1), (i >> 8) & 0xff),
    sourcePort: 1024 + (i & 0xff),
    destinationIp: Uint8Array.of(203, 0, 113, 7),
    destinationPort: 443,
    protocol: i % 2 === 0 ? "tcp" : "udp",
    action: "forward",
    nextHop: "",
  };
}

async function main(): Promise<void> {
  const netns = `so-bench-${randomBytes(3).toString("hex")}`;
  execFileSync("ip", ["netns", "add", netns]);
  try {
    const tc = process.hrtime.bigint();
    const clock = createFakeClock();
    const sw = await createNftablesSwitch({ capacity: total, netns, pollIntervalMs: 0, clock, idleTimeoutMs: 60_000 });
    const createMs = Number(process.hrtime.bigint() - tc) / 1e6;
    const t0 = process.hrtime.bigint();
    for (let start = 0; start < total; start += chunk) {
      const adds = [];
      for (let i = start; i < Math.min(total, start + chunk); i++) adds.push(sw.add(spec(i)));
      const results = await Promise.all(adds);
      if (results.some((r) => r.kind !== "accepted")) throw new Error("an add was not accepted");
    }
    const addMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const t1 = process.hrtime.bigint();
    let n = 0;
    for await (const s of sw.sessions()) if (s.inPackets >= 0n) n++;
    const readMs = Number(process.hrtime.bigint() - t1) / 1e6;
    const t2 = process.hrtime.bigint();
    await sw.poll();
    const pollMs = Number(process.hrtime.bigint() - t2) / 1e6;
    const t3 = process.hrtime.bigint();
    await sw.get(1n);
    const getMs = Number(process.hrtime.bigint() - t3) / 1e6;
    const t4 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: 100 }, (_, i) => sw.get(BigInt(i + 1))));
    const get100Ms = Number(process.hrtime.bigint() - t4) / 1e6;
    clock.advance(60_000);
    const t5 = process.hrtime.bigint();
    await sw.poll();
    const endAllMs = Number(process.hrtime.bigint() - t5) / 1e6;
    const lease = await sw.takeClosed(total);
    if (lease.sessions.length !== total) throw new Error(`${lease.sessions.length} sessions ended idle, not ${total}`);
    console.log(`sessions: ${total} (two kernel elements each); table made in ${createMs.toFixed(0)} ms`);
    console.log(
      `adds: ${addMs.toFixed(0)} ms, ${((total / addMs) * 1000).toFixed(0)} adds/s (concurrent adds of ${chunk}, batched)`,
    );
    console.log(
      `read counters of ${n} sessions (sessions() iteration, one nft list per used map): ${readMs.toFixed(0)} ms`,
    );
    console.log(`poll (read + end detection): ${pollMs.toFixed(0)} ms`);
    console.log(`get of one session: ${getMs.toFixed(0)} ms; 100 concurrent gets: ${get100Ms.toFixed(0)} ms`);
    console.log(`poll that ends all ${total} sessions idle (removing their kernel state): ${endAllMs.toFixed(0)} ms`);
    await sw.close();
  } finally {
    execFileSync("ip", ["netns", "del", netns]);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`nftables-switch: error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});

// Benchmark of the kernel switch in process (root only): adds per second into conntrack (coalesced per
// event-loop turn), getSession and deleteSession by key at scale, a full listing, and a reap that ends every
// session idle. Runs in a namespace of its own, removed at the end. The host's nf_conntrack_max caps a child
// namespace's table (docs/KERNEL.md): raise it before running with more than 262,144 sessions.
// Run: npx tsx bench/kernel-switch.ts [sessions]
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { SessionSpec } from "@sessionoffload/offload-api";
import { createFakeClock } from "@sessionoffload/switch-backend";
import { createKernelSwitch } from "@sessionoffload/switch-kernel";
import { numberFlag, parseCliOrExit } from "../examples/support/cli";

const total = parseCliOrExit(
  {
    name: "kernel-switch",
    help: "usage: npx tsx bench/kernel-switch.ts [SESSIONS]   (root)\n  SESSIONS               sessions to add (default 100000)",
    options: {},
    positionals: true,
  },
  ({ positionals }) =>
    numberFlag("SESSIONS", positionals[0] ?? "100000", { min: 1, max: 10_000_000, integer: true }) as number,
);
const chunk = 64;

function spec(i: number): SessionSpec {
  return {
    inLif: "",
    outLif: "",
    ipVersion: "ipv4",
    sourceIp: Uint8Array.of(10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff),
    sourcePort: 1024 + ((i >> 24) & 0xff),
    destinationIp: Uint8Array.of(203, 0, 113, 7),
    destinationPort: 443,
    protocol: i % 2 === 0 ? "tcp" : "udp",
    action: "forward",
    nextHop: "",
  };
}

function ms(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e6;
}

function rate(n: number, took: number): string {
  return `${((n / took) * 1000).toFixed(0)}/s`;
}

async function main(): Promise<void> {
  const netns = `so-bench-${randomBytes(3).toString("hex")}`;
  execFileSync("ip", ["netns", "add", netns]);
  try {
    const tc = process.hrtime.bigint();
    const clock = createFakeClock({ start: BigInt(Date.now()) * 1_000_000n });
    const sw = await createKernelSwitch({
      capacity: total,
      netns,
      reapIntervalMs: 0,
      eventPollMs: 0,
      clock,
      idleTimeoutMs: 60_000,
    });
    const createMs = ms(tc);
    const t0 = process.hrtime.bigint();
    // `chunk` adds in flight at a time, as a server with that many concurrent requests.
    let next = 0;
    await Promise.all(
      Array.from({ length: chunk }, async () => {
        while (next < total) {
          const r = await sw.add(spec(next++));
          if (r.kind !== "accepted") throw new Error(`an add answered ${r.kind}`);
        }
      }),
    );
    const addMs = ms(t0);
    const t1 = process.hrtime.bigint();
    let n = 0;
    for await (const s of sw.sessions()) if (s.inPackets >= 0n) n++;
    const listMs = ms(t1);
    const ids: bigint[] = [];
    for (let i = 0; i < 10_000; i++) ids.push(BigInt(1 + Math.floor(Math.random() * total)));
    const t2 = process.hrtime.bigint();
    let k = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (k < ids.length) await sw.get(ids[k++] as bigint);
      }),
    );
    const getMs = ms(t2);
    const t3 = process.hrtime.bigint();
    const dels = Array.from(new Set(ids)).slice(0, 5_000);
    let d = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (d < dels.length) await sw.delete(dels[d++] as bigint);
      }),
    );
    const delMs = ms(t3);
    clock.advance(60_000);
    const t4 = process.hrtime.bigint();
    await sw.reap();
    await sw.flush();
    const reapMs = ms(t4);
    const ended = sw.stats().closedPending;
    console.log(`sessions: ${total} (one conntrack entry each); switch made in ${createMs.toFixed(0)} ms`);
    console.log(`adds, ${chunk} in flight: ${addMs.toFixed(0)} ms, ${rate(total, addMs)}`);
    console.log(
      `listing of ${n} sessions (the first 64 read by key, the rest by a paged dump): ${listMs.toFixed(0)} ms, ${rate(n, listMs)}`,
    );
    console.log(`10,000 gets, 16 in flight: ${getMs.toFixed(0)} ms, ${rate(ids.length, getMs)}`);
    console.log(`${dels.length} deletes, 16 in flight: ${delMs.toFixed(0)} ms, ${rate(dels.length, delMs)}`);
    console.log(
      `reap that ends all ${ended} remaining sessions idle (dump + delete + DESTROY events): ${reapMs.toFixed(0)} ms`,
    );
    await sw.close();
  } finally {
    execFileSync("ip", ["netns", "del", netns]);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`kernel-switch: error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});

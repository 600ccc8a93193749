/**
 * Microbenchmark of the switch-kernel netlink layer (ctnetlink over koffi): create in batches, get, getMany,
 * dump of a mark-filtered table, paged dump, delete, destroy events, empty polls. Runs in a fresh network
 * namespace it makes and removes; needs root. Not part of `npm test`.
 *
 *   npx tsx bench/netlink-conntrack.ts [SESSIONS]      (default 100000; at most the host's nf_conntrack_max)
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { openConntrack, type ConntrackCreate, type ConntrackTuple } from "../packages/switch-kernel/src/netlink";

const sessions = Number(process.argv[2] ?? "100000");
if (!Number.isInteger(sessions) || sessions < 1000) throw new Error("SESSIONS: an integer >= 1000");
const MARK = 0x4000_0000;

function tuple(i: number): ConntrackTuple {
  const host = Math.floor(i / 50_000);
  return {
    family: 4,
    protocol: i % 4 === 0 ? 6 : 17,
    src: Uint8Array.of(10, (host >> 8) & 255, host & 255, 1),
    dst: Uint8Array.of(10, 200, 0, 1),
    srcPort: 1024 + (i % 50_000),
    dstPort: 443,
  };
}

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function row(label: string, ops: number, took: number, extra = ""): void {
  const perS = (ops / (took / 1000)).toFixed(0);
  console.log(`${label.padEnd(44)} ${perS.padStart(10)} /s  ${ops} in ${took.toFixed(1)} ms${extra}`);
}

function percentiles(samples: number[]): string {
  samples.sort((a, b) => a - b);
  const at = (p: number): string =>
    (samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] ?? 0).toFixed(0);
  return `  p50 ${at(0.5)} us  p99 ${at(0.99)} us`;
}

const ns = `k1-bench-${randomBytes(3).toString("hex")}`;
const run = (args: string[]): void => void execFileSync("ip", ["netns", "exec", ns, ...args], { stdio: "pipe" });
execFileSync("ip", ["netns", "add", ns]);
async function main(): Promise<void> {
  run(["sysctl", "-qw", "net.netfilter.nf_conntrack_acct=1"]);
  run([
    "nft",
    "add table inet b; add chain inet b c { type filter hook forward priority 0; }; add rule inet b c ct mark 1 accept",
  ]);
  const ct = openConntrack({ netns: `/run/netns/${ns}` });
  // subscribed before the entries exist: with nf_conntrack_events=2 (the default) only entries created while
  // someone listens get the event extension
  const events = openConntrack({ netns: `/run/netns/${ns}`, events: { destroy: true } });
  const entries: ConntrackCreate[] = Array.from({ length: sessions }, (_, i) => ({
    orig: tuple(i),
    timeoutS: 600,
    mark: MARK | i,
  }));
  const all = { mark: 0, mask: 0 };

  // create rate per batch size, on a quarter of the entries each, emptied between
  const slice = entries.slice(0, Math.min(20_000, sessions));
  for (const batch of [1, 16, 64, 256, 512]) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < slice.length; i += batch) {
      const r = ct.write(slice.slice(i, i + batch));
      if (r.some((e) => e !== 0)) throw new Error(`create failed: ${r.find((e) => e !== 0)}`);
    }
    row(`create, batches of ${batch}`, slice.length, ms(start));
    ct.flush(all);
  }

  // the table: SESSIONS marked entries, plus SESSIONS/5 unmarked the dump filter must skip
  const unmarked = Array.from({ length: Math.floor(sessions / 5) }, (_, i) => ({
    orig: tuple(sessions + i),
    timeoutS: 600,
  }));
  let start = process.hrtime.bigint();
  if (ct.write(entries).some((e) => e !== 0)) throw new Error("create failed");
  row(`create ${sessions} (write(), 512 per datagram)`, sessions, ms(start));
  ct.write(unmarked);

  const probes = Array.from({ length: 20_000 }, (_, i) => tuple((i * 7919) % sessions));
  const lat: number[] = [];
  start = process.hrtime.bigint();
  for (const t of probes) {
    const s = process.hrtime.bigint();
    if (ct.get(t) === undefined) throw new Error("missing");
    lat.push(Number(process.hrtime.bigint() - s) / 1000);
  }
  row(`get, one per call (table ${sessions + unmarked.length})`, probes.length, ms(start), percentiles(lat));
  for (const batch of [16, 128, 512]) {
    start = process.hrtime.bigint();
    for (let i = 0; i < probes.length; i += batch) ct.getMany(probes.slice(i, i + batch));
    row(`getMany, ${batch} per call`, probes.length, ms(start));
  }

  let heapBefore = process.memoryUsage().heapUsed;
  start = process.hrtime.bigint();
  let n = ct.dump({ mark: MARK, mask: MARK }, () => undefined);
  const took = ms(start);
  if (n !== sessions) throw new Error(`dump saw ${n}`);
  row(`dump, mark filter (${n} of ${sessions + unmarked.length})`, n, took);
  heapBefore = process.memoryUsage().heapUsed;
  const cursor = ct.openDump({ mark: MARK, mask: MARK });
  n = 0;
  const firstPage = process.hrtime.bigint();
  cursor.read(100, () => n++);
  const firstPageMs = ms(firstPage);
  start = process.hrtime.bigint();
  while (cursor.read(100, () => n++));
  row("paged dump, pages of 100", n, ms(start) + firstPageMs, `  first page ${(firstPageMs * 1000).toFixed(0)} us`);
  const heapAfter = process.memoryUsage().heapUsed;
  {
    // the longest stretch the event loop waited while dumpInTurns ran: measured by a ticker between its turns
    let longest = 0;
    let last = process.hrtime.bigint();
    let ticking = true;
    const tick = (): void => {
      const now = process.hrtime.bigint();
      longest = Math.max(longest, Number(now - last) / 1e6);
      last = now;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    start = process.hrtime.bigint();
    n = await ct.dumpInTurns({ mark: MARK, mask: MARK }, () => undefined, 256);
    ticking = false;
    row("dumpInTurns, 256 per turn", n, ms(start), `  longest turn ${longest.toFixed(1)} ms`);
  }
  console.log(
    `  heap growth over the paged dump: ${((heapAfter - heapBefore) / 1e6).toFixed(1)} MB (garbage included)`,
  );

  events.poll(); // the flushes' events
  start = process.hrtime.bigint();
  for (let i = 0; i < 100_000; i++) events.poll();
  row("poll() with nothing pending", 100_000, ms(start));

  const dels = probes.slice(0, 10_000);
  const dlat: number[] = [];
  start = process.hrtime.bigint();
  for (const t of dels) {
    const s = process.hrtime.bigint();
    ct.delete(t);
    dlat.push(Number(process.hrtime.bigint() - s) / 1000);
  }
  row("delete, one per call (destroy events on)", dels.length, ms(start), percentiles(dlat));
  start = process.hrtime.bigint();
  let got = events.poll().length;
  row("poll() draining destroy events", got, ms(start));

  const rest = entries.slice(0, 50_000).map((e) => ({ tuple: e.orig }));
  start = process.hrtime.bigint();
  const r = ct.deleteMany(rest);
  row("deleteMany, 512 per datagram", rest.length, ms(start), `  (${r.filter((e) => e === 0).length} deleted)`);
  start = process.hrtime.bigint();
  got = 0;
  for (let k = 0; k < 200; k++) got += events.poll().length;
  row("poll() draining destroy events", got, ms(start), `  lost ${events.eventsLost}`);
  events.close();
  ct.close();
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => execFileSync("ip", ["netns", "del", ns]));

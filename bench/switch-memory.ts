/**
 * Benchmark of the simulated switch: add/get/delete operations per second in
 * process, and bytes per session at 1,000,000 sessions. Not part of `npm test`.
 *
 *   npx tsx --expose-gc bench/switch-memory.ts [sessions]
 *
 * Without --expose-gc the memory figures include garbage and are marked so.
 */
import type { SessionSpec } from "@sessionoffload/offload-api";
import { createMemorySwitch } from "@sessionoffload/switch-backend";
import { numberFlag, parseCliOrExit } from "../examples/support/cli";

const count = parseCliOrExit(
  {
    name: "switch-memory",
    help: "usage: npx tsx --expose-gc bench/switch-memory.ts [SESSIONS]\n  SESSIONS               table size (default 1000000)",
    options: {},
    positionals: true,
  },
  ({ positionals }) =>
    numberFlag("SESSIONS", positionals[0] ?? "1000000", { min: 1, max: 100_000_000, integer: true }) as number,
);
const gc = (globalThis as { gc?: () => void }).gc;

function settle(): NodeJS.MemoryUsage {
  if (gc !== undefined) for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage();
}

function rate(label: string, ops: number, ms: number): void {
  console.log(
    `${label.padEnd(28)} ${(ops / (ms / 1000)).toFixed(0).padStart(12)} ops/s  (${ops} in ${ms.toFixed(0)} ms)`,
  );
}

function time(body: () => void): number {
  const start = process.hrtime.bigint();
  body();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

// One reusable spec: the switch copies the bytes, so the buffers are rewritten per add.
const sourceIp = new Uint8Array(4);
const spec: { -readonly [K in keyof SessionSpec]: SessionSpec[K] } = {
  inLif: "eth0",
  outLif: "eth1",
  ipVersion: "ipv4",
  sourceIp,
  sourcePort: 1024,
  destinationIp: Uint8Array.of(192, 0, 2, 1),
  destinationPort: 443,
  protocol: "tcp",
  action: "forward",
  nextHop: "",
};
function specFor(i: number): SessionSpec {
  sourceIp[0] = 10;
  sourceIp[1] = (i >>> 16) & 0xff;
  sourceIp[2] = (i >>> 8) & 0xff;
  sourceIp[3] = i & 0xff;
  spec.sourcePort = 1024 + ((i >>> 24) & 0xff);
  spec.protocol = i % 4 === 0 ? "udp" : "tcp";
  return spec;
}

console.log(
  `node ${process.version}, ${count} sessions, gc ${gc === undefined ? "NOT exposed (run with --expose-gc)" : "exposed"}`,
);
const before = settle();
const sw = createMemorySwitch({ capacity: count, traffic: false, tickIntervalMs: 0 });
let accepted = 0;
const addMs = time(() => {
  for (let i = 0; i < count; i++) if (sw.add(specFor(i)).kind === "accepted") accepted++;
});
if (accepted !== count) throw new Error(`only ${accepted} of ${count} adds were accepted`);
rate("add", count, addMs);
const after = settle();
const heapDelta = after.heapUsed + after.external - (before.heapUsed + before.external);
const rssDelta = after.rss - before.rss;
console.log(
  `memory at ${count} sessions: heap+external ${(heapDelta / count).toFixed(1)} B/session, RSS ${(rssDelta / count).toFixed(1)} B/session (RSS total ${(after.rss / 2 ** 20).toFixed(0)} MiB)`,
);

const dupMs = time(() => {
  for (let i = 0; i < count; i++) if (sw.add(specFor(i)).kind !== "alreadyExists") throw new Error("lost a duplicate");
});
rate("add (duplicate)", count, dupMs);

let found = 0;
const getMs = time(() => {
  let x = 12345;
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    if (sw.get(1n + BigInt(x % count)) !== undefined) found++;
  }
});
if (found !== count) throw new Error(`get missed ${count - found}`);
rate("get (random ids)", count, getMs);

let listed = 0;
const iterMs = time(() => {
  for (const _ of sw.sessions()) listed++;
});
rate("sessions() iteration", listed, iterMs);

const stepMs = time(() => {
  for (let i = 0; i < 100; i++) sw.step();
});
console.log(
  `${"step() at full table".padEnd(28)} ${(stepMs / 100).toFixed(3).padStart(12)} ms/step (traffic off: idle sweep only)`,
);

let deleted = 0;
const deleteMs = time(() => {
  for (let i = 0; i < count; i++) if (sw.delete(1n + BigInt(i)) !== undefined) deleted++;
});
if (deleted !== count) throw new Error(`delete missed ${count - deleted}`);
rate("delete", count, deleteMs);
sw.close();

// The traffic model at a full table: per-tick cost is O(samples), not O(table).
const model = createMemorySwitch({ capacity: count, tickIntervalMs: 0, traffic: { samplesPerTick: 1000 } });
for (let i = 0; i < count; i++) model.add(specFor(i));
const tickMs = time(() => {
  for (let i = 0; i < 100; i++) model.step();
});
console.log(
  `${"step() with traffic model".padEnd(28)} ${(tickMs / 100).toFixed(3).padStart(12)} ms/step (1000 samples/tick, ${count} sessions)`,
);
model.close();

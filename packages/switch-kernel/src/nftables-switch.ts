import {
  UINT64_MAX,
  createSystemClock,
  type Clock,
  type CloseCode,
  type EpochNanos,
  type Session,
  type SessionSpec,
  type SessionState,
} from "@sessionoffload/offload-api";
import type { AddOptions, AddResult, ClosedLease, IterateOptions, SwitchBackend } from "@sessionoffload/switch-backend";
import { createCommitQueue } from "./commit-queue";
import type { ElementCounter, KernelSnapshot } from "./kernel-snapshot";
import { createNftRunner, type NftCommand, type NftRunner } from "./nft-runner";
import { createFlowHasher } from "./flow-hash";
import {
  NFT_FAMILIES,
  SHARD_SEED,
  ioMapCommands,
  tableCommands,
  verdictChainCommands,
  verdictChainName,
  type NftFamily,
  type VerdictSpec,
} from "./ruleset";
import { checkKernelSpec, sessionKeys, type DirectionKey, type SessionKeys } from "./session-keys";
import { createSnapshotReader, type MapRef } from "./snapshot-reader";

/** Options of `createNftablesSwitch`. */
export interface NftablesSwitchOptions {
  /** Most entries (live and closed-not-yet-collected); required, a positive integer. */
  readonly capacity: number;
  /** Name of the switch's nft tables (one `ip` and one `ip6` table); default `sessionoffload`. */
  readonly tableName?: string;
  /** Network namespace to program (every nft runs via `ip netns exec`); default: the current one. */
  readonly netns?: string;
  /** First session id; default 1. Ids are unsigned 64-bit, never 0. */
  readonly firstId?: bigint;
  /** A TCP session with no packet in either direction for this long ends with `timeout`; default `idleTimeoutMs`, else 3,600,000 ms. */
  readonly tcpIdleTimeoutMs?: number;
  /** A UDP session with no packet in either direction for this long ends with `timeout`; default `idleTimeoutMs`, else 30,000 ms. */
  readonly udpIdleTimeoutMs?: number;
  /** Fallback of `tcpIdleTimeoutMs` and `udpIdleTimeoutMs` when they are not given. */
  readonly idleTimeoutMs?: number;
  /** How often the kernel state is read to find ended sessions; default 1,000 ms; 0 = only when `poll()` is called. */
  readonly pollIntervalMs?: number;
  /** Take over tables of the same name left by an earlier run instead of failing; default false. */
  readonly replaceExisting?: boolean;
  /** Source of the current time; default the system clock. */
  readonly clock?: Clock;
  /** Runs nft; default `createNftRunner({ netns, nftPath, ipPath })`. */
  readonly runner?: NftRunner;
  /** nft binary; default `nft`. */
  readonly nftPath?: string;
  /** ip binary (iproute2); default `ip`. */
  readonly ipPath?: string;
  /**
   * Shards the verdict maps are split into, 1..256 (a packet finds its shard by
   * the kernel's `jhash` of its 4-tuple). Reading one session's counters lists
   * one shard's map, so more shards make getSession cheaper at scale; default
   * capacity / 2,048 rounded up, at most 256.
   */
  readonly shards?: number;
  /** Most nft listings run at once when reading counters; default 2. */
  readonly readConcurrency?: number;
  /** Called with errors of background polls (the next poll retries); default: ignored. */
  readonly onPollError?: (err: unknown) => void;
}

/** A SwitchBackend whose data plane is the Linux kernel, programmed through nftables. */
export interface NftablesSwitch extends SwitchBackend {
  /** Name of the switch's `ip` and `ip6` tables. */
  readonly tableName: string;
  /** Reads the kernel state once and ends the sessions it shows ended (FIN both ways, RST, idle, element gone). */
  poll(): Promise<void>;
  /** Resolves once every kernel update submitted so far has been applied. */
  flush(): Promise<void>;
  /** The kernel keys of a session while the kernel holds it (for diagnostics and test harnesses). */
  kernelKeys(id: bigint): SessionKeys | undefined;
}

interface Counters {
  inPackets: bigint;
  outPackets: bigint;
  inBytes: bigint;
  outBytes: bigint;
}

interface Entry {
  readonly id: bigint;
  readonly tuple: string;
  readonly keys: SessionKeys;
  readonly startTime: EpochNanos;
  state: SessionState;
  closeCode: CloseCode;
  endTime: EpochNanos | undefined;
  counters: Counters;
  lastActivity: EpochNanos;
  inKernel: boolean;
  leased: boolean;
  /** Order in which entries entered the table: a poll judges only entries older than its listing. */
  readonly seq: number;
}

const NS_PER_MS = 1_000_000n;

function tupleOf(spec: SessionSpec): string {
  return [
    spec.inLif,
    spec.outLif,
    Buffer.from(spec.sourceIp).toString("hex"),
    spec.sourcePort,
    Buffer.from(spec.destinationIp).toString("hex"),
    spec.destinationPort,
    spec.protocol,
  ].join("\u0000");
}

function snapshotOf(e: Entry): Session {
  return {
    id: e.id,
    state: e.state,
    closeCode: e.closeCode,
    ...e.counters,
    startTime: e.startTime,
    endTime: e.endTime,
  };
}

function elementCommand(op: "add" | "delete", table: string, key: DirectionKey): NftCommand {
  const elem =
    op === "add"
      ? [[{ concat: key.values }, { jump: { target: verdictChainName(key.verdict) } }]]
      : [{ concat: key.values }];
  return { [op]: { element: { family: key.family, table, name: key.map, elem } } };
}

/** FIN/RST marks (by flagId) of each flag set. */
type MarkSets = Readonly<Record<"fin" | "rst", ReadonlySet<string>>>;

/**
 * Commands that clear FIN/RST marks of the keys (add then delete: valid
 * whether or not a mark exists): all of them, or with `only` just those marks
 * that set names.
 */
function clearFlagCommands(table: string, keys: readonly DirectionKey[], only?: MarkSets): NftCommand[] {
  const commands: NftCommand[] = [];
  for (const set of ["fin", "rst"] as const) {
    for (const key of keys) {
      if (only !== undefined && !only[set].has(key.flagId)) continue;
      const element = { family: key.family, table, name: set, elem: [{ concat: key.flagValues }] };
      commands.push({ add: { element } }, { delete: { element } });
    }
  }
  return commands;
}

function checkOptions(options: NftablesSwitchOptions): void {
  if (!Number.isSafeInteger(options.capacity) || options.capacity < 1) {
    throw new RangeError(`capacity: must be a positive integer, got ${options.capacity}`);
  }
  const name = options.tableName;
  if (name !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) {
    throw new RangeError(`tableName: "${name}" must be 1..64 letters, digits or "_", starting with a letter or "_"`);
  }
  if (options.firstId !== undefined && (options.firstId < 1n || options.firstId > UINT64_MAX)) {
    throw new RangeError(`firstId: must be in 1..2^64-1, got ${options.firstId}`);
  }
  if (
    options.shards !== undefined &&
    (!Number.isSafeInteger(options.shards) || options.shards < 1 || options.shards > 256)
  ) {
    throw new RangeError(`shards: must be an integer in 1..256, got ${options.shards}`);
  }
  for (const field of ["tcpIdleTimeoutMs", "udpIdleTimeoutMs", "idleTimeoutMs", "pollIntervalMs"] as const) {
    const v = options[field];
    if (v !== undefined && (!Number.isFinite(v) || v < 0)) {
      throw new RangeError(`${field}: must be a non-negative number, got ${v}`);
    }
  }
}

/**
 * Creates the switch: makes its `ip` and `ip6` tables (named `tableName`) in
 * the namespace and starts the poller. Fails if tables of that name exist,
 * unless `replaceExisting`. Throws RangeError for bad options and NftError if
 * nft fails (not root, no nftables support, unknown namespace).
 */
export async function createNftablesSwitch(options: NftablesSwitchOptions): Promise<NftablesSwitch> {
  checkOptions(options);
  const table = options.tableName ?? "sessionoffload";
  const clock = options.clock ?? createSystemClock();
  const runner =
    options.runner ?? createNftRunner({ netns: options.netns, nftPath: options.nftPath, ipPath: options.ipPath });
  const idleNs = {
    tcp: BigInt(Math.round(options.tcpIdleTimeoutMs ?? options.idleTimeoutMs ?? 3_600_000)) * NS_PER_MS,
    udp: BigInt(Math.round(options.udpIdleTimeoutMs ?? options.idleTimeoutMs ?? 30_000)) * NS_PER_MS,
  };
  const capacity = options.capacity;

  const listed = await runner.query(["list", "tables"]);
  const existing = listed.nftables.filter((item) => {
    const t = item["table"] as { name?: string; family?: string } | undefined;
    return t !== undefined && t.name === table && (t.family === "ip" || t.family === "ip6");
  });
  const setup: NftCommand[] = [];
  if (existing.length > 0) {
    if (options.replaceExisting !== true) {
      throw new Error(
        `nft table "${table}" already exists${options.netns ? ` in netns ${options.netns}` : ""}; pass replaceExisting to take it over`,
      );
    }
    for (const family of NFT_FAMILIES) {
      setup.push({ add: { table: { family, name: table } } }, { delete: { table: { family, name: table } } });
    }
  }
  const shards = options.shards ?? Math.min(256, Math.ceil(capacity / 2048));
  const shardOf = createFlowHasher(shards, SHARD_SEED);
  const sizes = { shards, flagSetSize: capacity * 2, flagTimeoutSeconds: 600 };
  for (const family of NFT_FAMILIES) setup.push(...tableCommands(family, table, sizes));
  await runner.apply(setup);

  const queue = createCommitQueue({ runner });
  const reader = createSnapshotReader({ runner, table, concurrency: options.readConcurrency });
  /** Every verdict map that has held an element (and so exists): what a full read lists. */
  const usedMaps = new Map<string, MapRef>();
  let entrySeq = 0;
  const entries = new Map<bigint, Entry>();
  const live = new Map<string, bigint>();
  const kernelOwners = new Map<string, bigint>();
  const chains = new Map<string, Promise<void>>();
  const pendingIds = new Set<bigint>();
  /** The marks the last poll saw: a removal clears these, not every mark a session could have. */
  let knownMarks: MarkSets = { fin: new Set(), rst: new Set() };
  /** 4-tuples (by flagId) whose session left the kernel less than the mark timeout ago, with when. */
  const released = new Map<string, EpochNanos>();
  const flagTimeoutNs = BigInt(sizes.flagTimeoutSeconds) * 1_000n * NS_PER_MS;
  let nextId = options.firstId ?? 1n;
  let wrapped = false;
  let closed = false;
  let polling: Promise<void> | undefined;

  function allocateId(): bigint {
    for (;;) {
      const id = nextId;
      if (nextId === UINT64_MAX) {
        nextId = 1n;
        wrapped = true;
      } else nextId += 1n;
      if (!entries.has(id) && !pendingIds.has(id)) return id;
    }
  }

  function ensureChain(family: NftFamily, spec: VerdictSpec): Promise<void> {
    const name = `${family} ${verdictChainName(spec)}`;
    let made = chains.get(name);
    if (made === undefined) {
      made = queue.submit(verdictChainCommands(family, table, spec));
      chains.set(name, made);
      made.catch(() => chains.delete(name));
    }
    return made;
  }

  function ensureIoMap(key: DirectionKey): Promise<void> {
    if (key.oifname === undefined) return Promise.resolve();
    const name = `${key.family} ${key.map}`;
    let made = chains.get(name);
    if (made === undefined) {
      made = queue.submit(ioMapCommands(key.family, table, key.proto, key.oifname, key.shard));
      chains.set(name, made);
      made.catch(() => chains.delete(name));
    }
    return made;
  }

  function checkOpen(): void {
    if (closed) throw new Error("the nftables switch is closed");
  }

  /**
   * Removes a session's elements (those in `present`, default both) and, in
   * the same transaction, the FIN/RST marks the last poll saw for it (so the
   * flag sets do not fill up). Its 4-tuples are remembered as released: a
   * mark set since that poll, or by a packet racing the removal, stays until
   * its timeout, so the next session on the same 4-tuple clears them all when
   * it is added.
   */
  function removeKernelState(e: Entry, present: readonly DirectionKey[] = [e.keys.in, e.keys.out]): Promise<void> {
    e.inKernel = false;
    kernelOwners.delete(e.keys.in.id);
    kernelOwners.delete(e.keys.out.id);
    const now = clock.now();
    released.set(e.keys.in.flagId, now);
    released.set(e.keys.out.flagId, now);
    return queue.submit([
      ...present.map((k) => elementCommand("delete", table, k)),
      ...clearFlagCommands(table, [e.keys.in, e.keys.out], knownMarks),
    ]);
  }

  function end(
    e: Entry,
    code: Exclude<CloseCode, "notClosed">,
    now: EpochNanos,
    present?: readonly DirectionKey[],
  ): Promise<void> {
    e.state = "closed";
    e.closeCode = code;
    e.endTime = now;
    live.delete(e.tuple);
    return removeKernelState(e, present);
  }

  function applyCounters(e: Entry, inC: ElementCounter, outC: ElementCounter, now: EpochNanos): void {
    const c = e.counters;
    if (inC.packets !== c.inPackets || outC.packets !== c.outPackets) e.lastActivity = now;
    e.counters = { inPackets: inC.packets, outPackets: outC.packets, inBytes: inC.bytes, outBytes: outC.bytes };
  }

  /** Reads the counters of one entry's elements (shared with concurrent readers) into the entry. */
  async function refresh(e: Entry): Promise<void> {
    const snap = await reader.read(
      [e.keys.in, e.keys.out].map((k) => ({ family: k.family, name: k.map })),
      false,
    );
    const inC = snap.counters.get(e.keys.in.id);
    const outC = snap.counters.get(e.keys.out.id);
    if (inC !== undefined && outC !== undefined && e.inKernel) applyCounters(e, inC, outC, clock.now());
  }

  async function pollOnce(): Promise<void> {
    await queue.drain();
    const listedSeq = entrySeq;
    const snap: KernelSnapshot = await reader.read(usedMaps.values(), true);
    knownMarks = { fin: snap.fin, rst: snap.rst };
    const now = clock.now();
    for (const [flag, at] of released) if (now - at > flagTimeoutNs) released.delete(flag);
    const removals: Promise<void>[] = [];
    for (const e of entries.values()) {
      // Entries added while the listing ran may be missing from it: the next poll judges them.
      if (!e.inKernel || e.seq > listedSeq) continue;
      const inC = snap.counters.get(e.keys.in.id);
      const outC = snap.counters.get(e.keys.out.id);
      if (inC === undefined || outC === undefined) {
        // The kernel no longer holds the session (expired or removed): it ended idle.
        const present = [e.keys.in, e.keys.out].filter((k) => snap.counters.has(k.id));
        removals.push(end(e, "timeout", now, present));
        continue;
      }
      applyCounters(e, inC, outC, now);
      const finIn = snap.fin.has(e.keys.in.flagId);
      const finOut = snap.fin.has(e.keys.out.flagId);
      if (snap.rst.has(e.keys.in.flagId) || snap.rst.has(e.keys.out.flagId)) removals.push(end(e, "rst", now));
      else if (finIn && finOut) removals.push(end(e, "finAck", now));
      else if (now - e.lastActivity >= idleNs[e.keys.in.proto]) removals.push(end(e, "timeout", now));
      else if (finIn || finOut) e.state = "closing1";
    }
    await Promise.all(removals);
  }

  function poll(): Promise<void> {
    polling ??= pollOnce().finally(() => {
      polling = undefined;
    });
    return polling;
  }

  const interval = options.pollIntervalMs ?? 1000;
  const timer =
    interval > 0
      ? setInterval(() => {
          poll().catch((err: unknown) => options.onPollError?.(err));
        }, interval)
      : undefined;
  timer?.unref();

  function orderedIds(after: bigint | undefined): bigint[] {
    const ids = [...entries.keys()].filter((id) => after === undefined || id > after);
    if (wrapped) ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return ids;
  }

  const backend: NftablesSwitch = {
    tableName: table,

    async add(spec: SessionSpec, addOptions?: AddOptions): Promise<AddResult> {
      checkOpen();
      // Temporary, until the netlink rewrite implements the contract: refuse rather than ignore.
      if (addOptions?.id !== undefined) {
        throw new Error("nftables switch: client-assigned ids (openoffload.v1) are not supported yet");
      }
      if ((spec.idleTimeoutMs ?? 0) !== 0) {
        throw new Error(
          "nftables switch: per-session idle timeouts (openoffload.v1 cacheTimeout) are not supported yet",
        );
      }
      checkKernelSpec(spec);
      const tuple = tupleOf(spec);
      const existingId = live.get(tuple);
      if (existingId !== undefined) return { kind: "alreadyExists", id: existingId };
      if (entries.size + pendingIds.size >= capacity) return { kind: "tableFull" };
      const keys = sessionKeys(spec, shardOf);
      for (const key of [keys.in, keys.out]) {
        const owner = kernelOwners.get(key.id);
        if (owner !== undefined) {
          throw new Error(
            `session ${owner} already holds the kernel key ${key.id} (the nftables switch keys a direction by its 5-tuple and interface names)`,
          );
        }
      }
      const id = allocateId();
      live.set(tuple, id);
      kernelOwners.set(keys.in.id, id);
      kernelOwners.set(keys.out.id, id);
      pendingIds.add(id);
      // A FIN/RST mark can only be stale where an earlier session of this switch used the 4-tuple.
      const reused = [keys.in, keys.out].filter((k) => released.delete(k.flagId));
      try {
        const chainsMade = [keys.in, keys.out].flatMap((k) => [ensureChain(k.family, k.verdict), ensureIoMap(k)]);
        const committed = queue.submit([
          ...clearFlagCommands(table, reused),
          elementCommand("add", table, keys.in),
          elementCommand("add", table, keys.out),
        ]);
        await Promise.all([...chainsMade, committed]);
      } catch (err) {
        for (const k of reused) released.set(k.flagId, clock.now());
        live.delete(tuple);
        kernelOwners.delete(keys.in.id);
        kernelOwners.delete(keys.out.id);
        throw err;
      } finally {
        pendingIds.delete(id);
      }
      for (const k of [keys.in, keys.out]) usedMaps.set(`${k.family} ${k.map}`, { family: k.family, name: k.map });
      const now = clock.now();
      entrySeq += 1;
      const e: Entry = {
        id,
        tuple,
        keys,
        startTime: now,
        state: "established",
        closeCode: "notClosed",
        endTime: undefined,
        counters: { inPackets: 0n, outPackets: 0n, inBytes: 0n, outBytes: 0n },
        lastActivity: now,
        inKernel: true,
        leased: false,
        seq: entrySeq,
      };
      entries.set(id, e);
      return { kind: "accepted", session: snapshotOf(e) };
    },

    async get(id) {
      checkOpen();
      const e = entries.get(id);
      if (e === undefined) return undefined;
      if (e.inKernel) await refresh(e);
      return snapshotOf(e);
    },

    async delete(id) {
      checkOpen();
      const e = entries.get(id);
      if (e === undefined) return undefined;
      if (e.inKernel) {
        await refresh(e);
        if (entries.get(id) !== e) return undefined;
      }
      entries.delete(id);
      if (live.get(e.tuple) === id) live.delete(e.tuple);
      if (e.inKernel) await removeKernelState(e);
      return { ...snapshotOf(e), state: "closing1", endTime: clock.now() };
    },

    async *sessions(opts?: IterateOptions) {
      checkOpen();
      const snap = await reader.read(usedMaps.values(), false);
      const now = clock.now();
      for (const id of orderedIds(opts?.afterId)) {
        const e = entries.get(id);
        if (e === undefined) continue;
        if (e.inKernel) {
          const inC = snap.counters.get(e.keys.in.id);
          const outC = snap.counters.get(e.keys.out.id);
          if (inC !== undefined && outC !== undefined) applyCounters(e, inC, outC, now);
        }
        yield snapshotOf(e);
      }
    },

    takeClosed(max: number): ClosedLease {
      checkOpen();
      const leased: Entry[] = [];
      for (const e of entries.values()) {
        if (leased.length >= max) break;
        if (e.state === "closed" && !e.leased) leased.push(e);
      }
      if (wrapped) leased.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      for (const e of leased) e.leased = true;
      let settled = false;
      return {
        sessions: leased.map(snapshotOf),
        settle(deliveredIds) {
          if (settled) return;
          settled = true;
          const delivered = new Set(deliveredIds);
          for (const e of leased) {
            if (delivered.has(e.id) && entries.get(e.id) === e) entries.delete(e.id);
            e.leased = false;
          }
        },
      };
    },

    size() {
      return entries.size;
    },

    poll() {
      checkOpen();
      return poll();
    },

    flush() {
      return queue.drain();
    },

    kernelKeys(id) {
      const e = entries.get(id);
      return e?.inKernel === true ? e.keys : undefined;
    },

    async close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      await polling?.catch(() => undefined);
      await queue.drain();
      const teardown: NftCommand[] = [];
      for (const family of NFT_FAMILIES) {
        teardown.push({ add: { table: { family, name: table } } }, { delete: { table: { family, name: table } } });
      }
      await runner.apply(teardown);
    },
  };
  return backend;
}

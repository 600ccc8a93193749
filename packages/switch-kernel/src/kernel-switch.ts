import {
  UINT64_MAX,
  ValidationError,
  createSystemClock,
  type Clock,
  type CloseCode,
  type EpochNanos,
  type Session,
  type SessionSpec,
  type SessionState,
} from "@sessionoffload/offload-api";
import type { AddOptions, AddResult, ClosedLease, SwitchBackend, SwitchStats } from "@sessionoffload/switch-backend";
import { checkAddArguments, newSession } from "@sessionoffload/switch-backend/kit";
import { createIdOrder } from "./id-order";
import { sessionLabels } from "./labels";
import {
  openConntrack,
  type Conntrack,
  type ConntrackBrief,
  type ConntrackEntry,
  type ConntrackEvent,
  type ConntrackTuple,
} from "./netlink";
import { createNftRunner, type NftRunner } from "./nft-runner";
import { NFT_FAMILIES, MARK_TAG_MASK, tableScript, teardownScript } from "./ruleset";
import { checkKernelSpec, reverseKey, sessionTuple, tupleKey, tupleOfKey, verdictOf } from "./session-tuple";
import { applyConntrackSysctls, kernelTimeoutFor } from "./sysctls";
import { createVerdictRegistry } from "./verdicts";

/** Options of `createKernelSwitch`. */
export interface KernelSwitchOptions {
  /** Most entries (live and closed-not-yet-collected); required, a positive integer. */
  readonly capacity: number;
  /** Name of the switch's nft tables (one `ip`, one `ip6`); default `sessionoffload`. */
  readonly tableName?: string;
  /** Network namespace (a name under /run/netns) to program; default: the current one. */
  readonly netns?: string;
  /** First session id the switch assigns; default 1. */
  readonly firstId?: bigint;
  /** Idle timeout of TCP sessions without their own; default `idleTimeoutMs`, else 3,600,000 ms. */
  readonly tcpIdleTimeoutMs?: number;
  /** Idle timeout of UDP sessions without their own; default `idleTimeoutMs`, else 30,000 ms. */
  readonly udpIdleTimeoutMs?: number;
  /** Fallback of the two above. */
  readonly idleTimeoutMs?: number;
  /** How often the idle reaper checks whether a session may be due (a kernel dump only then); default 250 ms; 0 = only `reap()`. */
  readonly reapIntervalMs?: number;
  /** How often conntrack events (FIN, RST, kernel expiry) are read; default 20 ms; 0 = only `pollEvents()`. */
  readonly eventPollMs?: number;
  /** Top byte of the conntrack marks of this switch's sessions (one per switch in a namespace); default 0x5e. */
  readonly markTag?: number;
  /** Source of the current time; default the system clock. */
  readonly clock?: Clock;
  /** Runs nft (static ruleset, verdict chains); default one for `netns`. */
  readonly runner?: NftRunner;
  /** Called with errors of background work (event polls, reaps); default: ignored. */
  readonly onBackgroundError?: (err: unknown) => void;
}

/** A SwitchBackend whose data plane is the Linux kernel: conntrack entries marked for a few static nft rules. */
export interface KernelSwitch extends SwitchBackend {
  /** Name of the switch's `ip` and `ip6` tables. */
  readonly tableName: string;
  /** Entries of an earlier run (same mark tag) that the switch found at start and removed. */
  readonly cleanedAtStart: number;
  /** Reads the kernel's counters of every session now and ends those idle for their timeout. */
  reap(): Promise<void>;
  /** Reads pending conntrack events now (FIN, RST, entries the kernel expired). */
  pollEvents(): Promise<void>;
  /** Resolves once every kernel update submitted so far has been applied. */
  flush(): Promise<void>;
  /** The conntrack tuple of a session while the kernel holds it (for diagnostics and test harnesses). */
  kernelTuple(id: bigint): ConntrackTuple | undefined;
  /** Table counts (answered from memory). */
  stats(): SwitchStats;
}

interface Counters {
  inPackets: bigint;
  outPackets: bigint;
  inBytes: bigint;
  outBytes: bigint;
}

type EndCode = Exclude<CloseCode, "notClosed">;

/** Where an entry is: being added, in the kernel, being removed from it, or ended (kernel entry gone). */
type Phase = "adding" | "live" | "removing" | "closed";

interface Entry {
  readonly id: bigint;
  /** The tuple key of the session's first direction (the conntrack entry's original tuple; `tupleOfKey`). */
  readonly key: string;
  readonly inLif: string;
  readonly outLif: string;
  /** True while the session counts for duplicates (adding, live, removing to end; not once deleted or ended). */
  inSeven: boolean;
  readonly idleNs: bigint;
  readonly mark: number;
  readonly startTime: EpochNanos;
  phase: Phase;
  state: SessionState;
  closeCode: CloseCode;
  endTime: EpochNanos | undefined;
  counters: Counters;
  lastActivity: EpochNanos;
  leased: boolean;
  /** Set while removing: the code the session ends with, or undefined for a user delete. */
  endCode: EndCode | undefined;
  /** Waiters of the removal (user deletes): answered the final counters; undefined when none. */
  removed: ((c: Counters) => void)[] | undefined;
  /** The switch's serial number of this kernel entry (in its labels, after the id). */
  readonly serial: number;
  /** Index in `slots` while the kernel may hold the entry (in its labels, after the serial). */
  slot: number;
  /** The reap round that last saw the entry in the kernel. */
  reapRound: number;
  /** Waiters of the add. */
  added: Promise<void> | undefined;
}

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;
const ZERO: Counters = { inPackets: 0n, outPackets: 0n, inBytes: 0n, outBytes: 0n };
const TCP = 6;
/** TCP_CONNTRACK_* states that mean the session ended or is ending. */
const TCP_FIN_WAIT = 4;
const TCP_CLOSE_WAIT = 5;
const TCP_LAST_ACK = 6;
const TCP_TIME_WAIT = 7;
const TCP_CLOSE = 8;
const EEXIST = 17;
/** Sessions a listing reads by key (one GET datagram) before it reads the whole table with a dump. */
const LIST_FIRST_CHUNK = 64;
/** Entries read from a kernel dump per event-loop turn (a page costs about 1-2 ms). */
const DUMP_PAGE = 512;
/** How long before the kernel would expire an entry the reaper gives it more time (sessions idle longer than the kernel's timeout). */
const KERNEL_MARGIN_NS = 10n * NS_PER_S;

function countersOf(e: ConntrackEntry): Counters | undefined {
  const c = e.counters;
  if (c === undefined) return undefined;
  return { inPackets: c.origPackets, inBytes: c.origBytes, outPackets: c.replyPackets, outBytes: c.replyBytes };
}

function sameCounters(a: Counters, b: Counters): boolean {
  return a.inPackets === b.inPackets && a.outPackets === b.outPackets;
}

function snapshotOf(e: Entry): Session {
  const c = e.counters;
  return {
    id: e.id,
    state: e.state,
    closeCode: e.closeCode,
    inPackets: c.inPackets,
    outPackets: c.outPackets,
    inBytes: c.inBytes,
    outBytes: c.outBytes,
    startTime: e.startTime,
    endTime: e.endTime,
  };
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/** The close code a TCP state ends a session with, or undefined while it is open or half-closed. */
function tcpEnd(state: number | undefined): EndCode | undefined {
  if (state === TCP_LAST_ACK || state === TCP_TIME_WAIT) return "finAck";
  if (state === TCP_CLOSE) return "rst";
  return undefined;
}

function checkOptions(o: KernelSwitchOptions): void {
  if (!Number.isSafeInteger(o.capacity) || o.capacity < 1) {
    throw new RangeError(`capacity: must be a positive integer, got ${o.capacity}`);
  }
  if (o.tableName !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(o.tableName)) {
    throw new RangeError(
      `tableName: "${o.tableName}" must be 1..64 letters, digits or "_", starting with a letter or "_"`,
    );
  }
  if (o.firstId !== undefined && (o.firstId < 1n || o.firstId > UINT64_MAX)) {
    throw new RangeError(`firstId: must be in 1..2^64-1, got ${o.firstId}`);
  }
  if (o.markTag !== undefined && (!Number.isInteger(o.markTag) || o.markTag < 1 || o.markTag > 0xff)) {
    throw new RangeError(`markTag: must be an integer in 1..255, got ${o.markTag}`);
  }
  for (const f of ["tcpIdleTimeoutMs", "udpIdleTimeoutMs", "idleTimeoutMs", "reapIntervalMs", "eventPollMs"] as const) {
    const v = o[f];
    if (v !== undefined && (!Number.isFinite(v) || v < 0))
      throw new RangeError(`${f}: must be a non-negative number, got ${v}`);
  }
}

/**
 * Creates the switch over the kernel of the current (or the named) network
 * namespace: sets the namespace's conntrack sysctls (accounting on, the
 * established-flow timeouts the reaper reads activity from), removes what an
 * earlier run with the same mark tag left (tables and conntrack entries:
 * restarts start empty, see docs/KERNEL.md), loads the static ruleset with
 * nft, and opens conntrack over netlink. Rejects with RangeError for bad
 * options and with NftError or NetlinkError when the kernel refuses.
 */
export async function createKernelSwitch(options: KernelSwitchOptions): Promise<KernelSwitch> {
  checkOptions(options);
  const table = options.tableName ?? "sessionoffload";
  const clock = options.clock ?? createSystemClock();
  const runner = options.runner ?? createNftRunner({ netns: options.netns });
  const tagByte = options.markTag ?? 0x5e;
  const tag = (tagByte << 24) >>> 0;
  const capacity = options.capacity;
  const defaultIdleMs = {
    tcp: options.tcpIdleTimeoutMs ?? options.idleTimeoutMs ?? 3_600_000,
    udp: options.udpIdleTimeoutMs ?? options.idleTimeoutMs ?? 30_000,
  };
  const kernelTimeoutS = kernelTimeoutFor(Math.max(defaultIdleMs.tcp, defaultIdleMs.udp));
  const onError = options.onBackgroundError ?? (() => undefined);

  // The ruleset first: its `ct` expressions load conntrack in the namespace, whose sysctls come next.
  await runner.script(teardownScript(table));
  await runner.script(NFT_FAMILIES.map((f) => tableScript(f, table)).join("\n"));
  await applyConntrackSysctls(options.netns, kernelTimeoutS);
  const ct: Conntrack = openConntrack({
    ...(options.netns === undefined ? {} : { netns: `/run/netns/${options.netns}` }),
    events: { update: true, destroy: true },
  });
  const filter = { mark: tag, mask: MARK_TAG_MASK };
  let cleanedAtStart = 0;
  try {
    cleanedAtStart = ct.dump(filter, () => undefined);
    if (cleanedAtStart > 0) ct.flush(filter);
    ct.poll();
  } catch (err) {
    ct.close();
    throw err;
  }
  const verdicts = createVerdictRegistry(runner, table, tag);

  const entries = new Map<bigint, Entry>();
  const order = createIdOrder();
  /**
   * Entries the kernel may hold, by their first direction's tuple key (at most one per 5-tuple and its reverse:
   * an add is refused when either is held). The 7-tuple of a duplicate is this key plus the interfaces.
   */
  const byKey = new Map<string, Entry>();
  const closedEntries = new Set<Entry>();
  let nextId = options.firstId ?? 1n;
  let closed = false;

  // Work for the kernel, coalesced per event-loop turn.
  let creates: { e: Entry; tuple: ConntrackTuple; resolve: () => void; reject: (err: Error) => void }[] = [];
  let serial = 0;
  /** Entries the kernel may hold by slot: a dumped entry's labels name its slot (and serial, to check it). */
  const slots: (Entry | undefined)[] = [];
  const freeSlots: number[] = [];
  let reapRound = 0;
  /** The spec fields and mark of the last verdict looked up: adds mostly repeat one. */
  let lastVerdict: { action: string; nextHop: string; inLif: string; outLif: string; ipVersion: string; mark: number } =
    { action: "", nextHop: "", inLif: "", outLif: "", ipVersion: "", mark: 0 };
  let removes: Entry[] = [];
  let gets: { e: Entry; done: () => void }[] = [];
  let refreshes: Entry[] = [];
  let scheduled: Promise<void> | undefined;
  let nextDue: EpochNanos =
    clock.now() + BigInt(Math.round(Math.min(defaultIdleMs.tcp, defaultIdleMs.udp))) * NS_PER_MS;

  function checkOpen(): void {
    if (closed) throw new Error("the kernel switch is closed");
  }

  /** Highest id a client chose, and whether assigned ids wrapped: until then an id above it is free for sure. */
  let highestClientId = 0n;
  let wrapped = false;
  function allocateId(): bigint {
    for (;;) {
      const id = nextId;
      if (nextId === UINT64_MAX) {
        nextId = 1n;
        wrapped = true;
      } else {
        nextId = nextId + 1n;
      }
      if ((!wrapped && id > highestClientId) || !entries.has(id)) return id;
    }
  }

  function schedule(): Promise<void> {
    scheduled ??= new Promise<void>((resolve) => {
      setImmediate(() => {
        scheduled = undefined;
        try {
          runTurn();
        } catch (err) {
          onError(err);
        }
        resolve();
      });
    });
    return scheduled;
  }

  function forgetKernel(e: Entry): void {
    if (byKey.get(e.key) === e) byKey.delete(e.key);
    if (slots[e.slot] === e) {
      slots[e.slot] = undefined;
      freeSlots.push(e.slot);
    }
  }

  /** The kernel entry of `e` is gone, with these final counters: the session ends (or its delete answers). */
  function finish(e: Entry, final: Counters | undefined, code: EndCode): void {
    if (e.phase === "closed" || e.phase === "adding") return;
    forgetKernel(e);
    if (final !== undefined) e.counters = final;
    const waiters = e.removed ?? [];
    e.removed = undefined;
    if (waiters.length > 0 && e.endCode === undefined) {
      // A user delete: the entry already left the table.
      e.phase = "closed";
      for (const w of waiters) w(e.counters);
      return;
    }
    e.phase = "closed";
    e.state = "closed";
    e.closeCode = e.endCode ?? code;
    e.endTime = clock.now();
    e.inSeven = false;
    if (entries.get(e.id) === e) closedEntries.add(e);
    for (const w of waiters) w(e.counters);
  }

  /** Starts ending a live session: its kernel entry is removed in this turn's batch. */
  function endSoon(e: Entry, code: EndCode): void {
    if (e.phase !== "live") return;
    e.phase = "removing";
    e.endCode = code;
    removes.push(e);
    void schedule();
  }

  function handleEvent(ev: ConntrackEvent): void {
    const e = byKey.get(tupleKey(ev.entry.orig));
    if (e === undefined || (ev.entry.mark & MARK_TAG_MASK) !== tag) return;
    if (ev.type === "destroy") {
      finish(e, countersOf(ev.entry), tcpEnd(ev.entry.tcpState) ?? "timeout");
      return;
    }
    const end = tcpEnd(ev.entry.tcpState);
    if (end !== undefined) endSoon(e, end);
    else if ((ev.entry.tcpState === TCP_FIN_WAIT || ev.entry.tcpState === TCP_CLOSE_WAIT) && e.phase === "live") {
      e.state = "closing1";
    }
  }

  function drainEvents(): void {
    for (;;) {
      const events = ct.poll(4096);
      for (const ev of events) handleEvent(ev);
      if (events.length < 4096) return;
    }
  }

  function runTurn(): void {
    drainEvents();
    const removing = removes;
    removes = [];
    if (removing.length > 0) {
      const results = ct.deleteMany(removing.map((e) => ({ tuple: tupleOfKey(e.key) })));
      drainEvents();
      // Entries whose DESTROY event was not read (already gone): end with the counters last read.
      for (let i = 0; i < removing.length; i++) {
        const e = removing[i] as Entry;
        if (e.phase === "removing") finish(e, undefined, e.endCode ?? "timeout");
        void results[i];
      }
    }
    const creating = creates;
    creates = [];
    if (creating.length > 0) {
      const write = (batch: typeof creating): number[] =>
        ct.write(
          batch.map(({ e, tuple }) => ({
            orig: tuple,
            timeoutS: kernelTimeoutS,
            mark: e.mark,
            labels: sessionLabels(e.id, e.serial, e.slot),
            ...(tuple.protocol === TCP ? { tcpState: 3 } : {}),
          })),
          "create",
        );
      const results = write(creating);
      // A foreign entry (the flow passed before it was offloaded, or an earlier run's) holds the tuple: replace it.
      const taken = creating.filter((_, i) => results[i] === EEXIST);
      let retried: number[] = [];
      if (taken.length > 0) {
        ct.deleteMany(taken.map(({ tuple }) => ({ tuple })));
        drainEvents();
        retried = write(taken);
      }
      let t = 0;
      for (let i = 0; i < creating.length; i++) {
        const c = creating[i] as (typeof creating)[number];
        const errno = results[i] === EEXIST ? (retried[t++] ?? EEXIST) : results[i];
        if (errno === 0) c.resolve();
        else c.reject(new Error(`conntrack refused session ${c.e.id}: errno ${errno}`));
      }
    }
    const reading = gets;
    gets = [];
    if (reading.length > 0) {
      const found = ct.getMany(reading.map(({ e }) => tupleOfKey(e.key)));
      const now = clock.now();
      for (let i = 0; i < reading.length; i++) {
        const { e, done } = reading[i] as (typeof reading)[number];
        const k = found[i];
        if (k !== undefined && (k.mark & MARK_TAG_MASK) === tag && e.phase === "live") observe(e, k, now);
        done();
      }
      drainEvents();
    }
    const refreshing = refreshes;
    refreshes = [];
    if (refreshing.length > 0) {
      ct.write(
        refreshing
          .filter((e) => e.phase === "live")
          .map((e) => ({ orig: tupleOfKey(e.key), timeoutS: kernelTimeoutS, mark: e.mark })),
        "update",
      );
    }
  }

  /** Takes a kernel entry's counters into `e`; activity moves its idle clock (to when the kernel last saw a packet). */
  function observe(e: Entry, k: ConntrackEntry, now: EpochNanos): void {
    const c = countersOf(k);
    if (c === undefined) return;
    if (!sameCounters(c, e.counters)) moveActivity(e, k.timeoutS ?? -1, now);
    e.counters = c;
  }

  /** `observe` of a dump's brief: the counters are copied only when they changed. */
  function observeBrief(e: Entry, k: Readonly<ConntrackBrief>): void {
    if (!k.hasCounters) return;
    const c = e.counters;
    if (c.inPackets === k.origPackets && c.outPackets === k.replyPackets) {
      if (c.inBytes === k.origBytes && c.outBytes === k.replyBytes) return;
    } else {
      moveActivity(e, k.timeoutS, clock.now());
    }
    e.counters = { inPackets: k.origPackets, inBytes: k.origBytes, outPackets: k.replyPackets, outBytes: k.replyBytes };
  }

  /**
   * New packets were counted: a packet resets an established flow's kernel timeout to kernelTimeoutS, so the time
   * left (`timeoutS`, -1 unknown) says when it came; the kernel rounds it down, so take one second less (never end
   * a session early).
   */
  function moveActivity(e: Entry, timeoutS: number, now: EpochNanos): void {
    const sinceS = timeoutS < 0 ? 0 : Math.max(0, kernelTimeoutS - timeoutS - 1);
    const at = now - BigInt(sinceS) * NS_PER_S;
    if (at > e.lastActivity) e.lastActivity = at;
  }

  /** The live session a dumped entry belongs to (its labels hold the slot and serial of the session's entry). */
  function liveEntryOf(k: Readonly<ConntrackBrief>): Entry | undefined {
    const e = slots[k.labelWord3];
    // The serial tells this entry from an earlier one of the slot (a deleted session's, still listed while going).
    if (e === undefined || e.serial !== k.labelWord2 || e.phase !== "live") return undefined;
    return e;
  }

  /**
   * Reads every marked entry (a page per event-loop turn): counters and activity into the sessions; sessions
   * idle for their timeout, or whose TCP state says they ended (an UPDATE event lost to a full socket), end.
   */
  async function reapOnce(): Promise<void> {
    let due: EpochNanos | undefined;
    const round = ++reapRound;
    const lost = ct.eventsLost;
    await ct.dumpBriefInTurns(
      filter,
      (k) => {
        const e = liveEntryOf(k);
        if (e === undefined) return;
        e.reapRound = round;
        const now = clock.now();
        observeBrief(e, k);
        const ended = tcpEnd(k.tcpState);
        if (ended !== undefined) {
          endSoon(e, ended);
          return;
        }
        let deadline = e.lastActivity + e.idleNs;
        if (deadline <= now) {
          endSoon(e, "timeout");
          return;
        }
        if (k.timeoutS >= 0) {
          // A session whose own idle timeout outlasts the kernel's: more time for the entry before the kernel expires it.
          const expiry = now + BigInt(k.timeoutS) * NS_PER_S;
          if (deadline > expiry - KERNEL_MARGIN_NS) {
            if (k.timeoutS * 1000 < 2 * Number(KERNEL_MARGIN_NS / NS_PER_MS)) refreshes.push(e);
            else deadline = expiry - KERNEL_MARGIN_NS;
          }
        }
        if (due === undefined || deadline < due) due = deadline;
      },
      DUMP_PAGE,
    );
    for (const e of entries.values()) {
      // Live sessions the dump did not show: the kernel dropped them; their DESTROY event ends them.
      if (e.phase === "live" && e.reapRound !== round) {
        const deadline = e.lastActivity + e.idleNs;
        if (due === undefined || deadline < due) due = deadline;
      }
    }
    // Events lost while the dump ran: read the table again at once.
    nextDue = ct.eventsLost !== lost ? clock.now() : (due ?? clock.now() + 3_600n * NS_PER_S);
    if (refreshes.length > 0 || removes.length > 0) await schedule();
  }

  let reaping: Promise<void> | undefined;
  function reap(): Promise<void> {
    reaping ??= reapOnce().finally(() => {
      reaping = undefined;
    });
    return reaping;
  }

  const eventTimer =
    (options.eventPollMs ?? 20) > 0
      ? setInterval(() => {
          try {
            const lost = ct.eventsLost;
            drainEvents();
            // A FIN or RST event may have been lost with them: the reaper reads every entry's TCP state.
            if (ct.eventsLost !== lost) nextDue = clock.now();
            if (removes.length > 0) void schedule();
          } catch (err) {
            onError(err);
          }
        }, options.eventPollMs ?? 20)
      : undefined;
  eventTimer?.unref();
  const reapTimer =
    (options.reapIntervalMs ?? 250) > 0
      ? setInterval(() => {
          if (reaping !== undefined || clock.now() < nextDue) return;
          reap().catch(onError);
        }, options.reapIntervalMs ?? 250)
      : undefined;
  reapTimer?.unref();

  /** The entries of these ids, their counters read from the kernel by key (one datagram). */
  function readByKey(ids: readonly bigint[]): Entry[] {
    const batch: Entry[] = [];
    for (const id of ids) {
      const e = entries.get(id);
      if (e !== undefined) batch.push(e);
    }
    const live = batch.filter((e) => e.phase === "live");
    if (live.length > 0) {
      const found = ct.getMany(live.map((e) => tupleOfKey(e.key)));
      const now = clock.now();
      live.forEach((e, j) => {
        const k = found[j];
        if (k !== undefined && (k.mark & MARK_TAG_MASK) === tag) observe(e, k, now);
      });
    }
    return batch;
  }

  /** Reads every marked kernel entry's counters into its session, a page of the dump per event-loop turn. */
  async function refreshAll(): Promise<void> {
    await ct.dumpBriefInTurns(
      filter,
      (k) => {
        const e = liveEntryOf(k);
        if (e !== undefined) observeBrief(e, k);
      },
      DUMP_PAGE,
    );
  }

  /**
   * The listing of `sessions()`: ids in ascending order as of its first step; the first LIST_FIRST_CHUNK
   * sessions' counters read by key (a small page reads only what it sends), then, for a longer walk, every
   * marked entry once with a paged kernel dump into the sessions, which are then streamed from memory. A plain
   * iterator, not an async generator: a step answers an already resolved promise, no generator resumption.
   */
  function listing(afterId: bigint | undefined): AsyncIterableIterator<Session> {
    let ids: bigint[] | undefined;
    let first: Entry[] = [];
    let i = 0;
    let refreshed = false;
    let finished = false;
    const iterator: AsyncIterableIterator<Session> = {
      [Symbol.asyncIterator]: () => iterator,
      next(): Promise<IteratorResult<Session>> {
        try {
          return Promise.resolve(step());
        } catch (err) {
          return Promise.reject(err as Error);
        }
      },
      return(): Promise<IteratorResult<Session>> {
        finished = true;
        return Promise.resolve(DONE);
      },
    };
    function step(): IteratorResult<Session> | Promise<IteratorResult<Session>> {
      if (finished) return DONE;
      if (ids === undefined) {
        checkOpen();
        ids = order.after(afterId, (id) => entries.has(id));
        first = readByKey(ids.slice(0, LIST_FIRST_CHUNK));
      }
      while (i < first.length) {
        const e = first[i++] as Entry;
        if (entries.get(e.id) === e) return { done: false, value: snapshotOf(e) };
      }
      if (!refreshed && ids.length > LIST_FIRST_CHUNK) {
        refreshed = true;
        i = LIST_FIRST_CHUNK;
        return refreshAll().then(() => step());
      }
      if (i < LIST_FIRST_CHUNK) i = LIST_FIRST_CHUNK;
      while (i < ids.length) {
        const e = entries.get(ids[i++] as bigint);
        if (e !== undefined) return { done: false, value: snapshotOf(e) };
      }
      finished = true;
      return DONE;
    }
    return iterator;
  }

  /** Idle timeouts in ns by ms (a few distinct values: the defaults and clients' own), one bigint each. */
  const idleNsByMs = new Map<number, bigint>();
  function idleNsOf(spec: SessionSpec): bigint {
    const own = spec.idleTimeoutMs ?? 0;
    const ms = own !== 0 ? own : defaultIdleMs[spec.protocol];
    let ns = idleNsByMs.get(ms);
    if (ns === undefined) {
      ns = BigInt(Math.round(ms)) * NS_PER_MS;
      if (idleNsByMs.size < 256) idleNsByMs.set(ms, ns);
    }
    return ns;
  }

  function addEntry(e: Entry, tuple: ConntrackTuple): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      creates.push({ e, tuple, resolve, reject });
      void schedule();
    });
  }

  /** The mark of a spec's verdict when its chain exists (the last one looked up answers without building a key). */
  function markFor(spec: SessionSpec): number | undefined {
    const l = lastVerdict;
    if (
      l.action === spec.action &&
      l.inLif === spec.inLif &&
      l.outLif === spec.outLif &&
      l.ipVersion === spec.ipVersion &&
      l.nextHop === spec.nextHop
    ) {
      return l.mark;
    }
    const mark = verdicts.markOf(verdictOf(spec));
    if (mark !== undefined) {
      const { action, nextHop, inLif, outLif, ipVersion } = spec;
      lastVerdict = { action, nextHop, inLif, outLif, ipVersion, mark };
    }
    return mark;
  }

  const backend: KernelSwitch = {
    tableName: table,
    cleanedAtStart,

    async add(spec: SessionSpec, addOptions?: AddOptions): Promise<AddResult> {
      checkOpen();
      checkAddArguments(spec, addOptions);
      checkKernelSpec(spec);
      const wanted = addOptions?.id;
      if (wanted !== undefined && entries.has(wanted)) return { kind: "alreadyExists", id: wanted };
      const tuple = sessionTuple(spec);
      const key = tupleKey(tuple);
      const dup = byKey.get(key);
      if (dup !== undefined && dup.inSeven && dup.inLif === spec.inLif && dup.outLif === spec.outLif) {
        return { kind: "alreadyExists", id: dup.id };
      }
      if (entries.size >= capacity) return { kind: "tableFull" };
      const holder = dup ?? byKey.get(reverseKey(tuple));
      if (holder !== undefined) {
        throw new ValidationError(
          holder.inLif === spec.inLif ? "outLif" : "inLif",
          `session ${holder.id} holds this 5-tuple (or its reverse) with other interfaces: the kernel switch keeps one session per 5-tuple`,
        );
      }
      if (wanted !== undefined && wanted > highestClientId) highestClientId = wanted;
      const id = wanted ?? allocateId();
      const now = clock.now();
      const e: Entry = {
        id,
        key,
        inLif: spec.inLif,
        outLif: spec.outLif,
        inSeven: true,
        idleNs: idleNsOf(spec),
        mark: markFor(spec) ?? 0,
        startTime: now,
        phase: "adding",
        state: "established",
        closeCode: "notClosed",
        endTime: undefined,
        counters: ZERO,
        lastActivity: now,
        leased: false,
        endCode: undefined,
        removed: undefined,
        added: undefined,
        serial: (serial = (serial + 1) >>> 0 || 1),
        slot: 0,
        reapRound: 0,
      };
      e.slot = freeSlots.pop() ?? slots.length;
      slots[e.slot] = e;
      entries.set(id, e);
      order.add(id);
      byKey.set(key, e);
      e.added =
        e.mark !== 0
          ? addEntry(e, tuple)
          : (async () => {
              (e as { mark: number }).mark = await verdicts.ensure(verdictOf(spec));
              await addEntry(e, tuple);
            })();
      try {
        await e.added;
      } catch (err) {
        if (entries.get(id) === e) {
          entries.delete(id);
          order.removed();
        }
        e.inSeven = false;
        forgetKernel(e);
        throw err;
      }
      e.added = undefined;
      const started = clock.now();
      (e as { startTime: EpochNanos }).startTime = started;
      e.lastActivity = started;
      const deadline = started + e.idleNs;
      if (deadline < nextDue) nextDue = deadline;
      if (e.phase === "adding") e.phase = "live";
      return { kind: "accepted", session: newSession(id, started) };
    },

    async get(id) {
      checkOpen();
      const e = entries.get(id);
      if (e === undefined) return undefined;
      if (e.added !== undefined) await e.added.catch(() => undefined);
      if (e.phase === "live") {
        await new Promise<void>((resolve) => {
          gets.push({ e, done: resolve });
          void schedule();
        });
      }
      return entries.get(id) === e ? snapshotOf(e) : undefined;
    },

    async delete(id) {
      checkOpen();
      const e = entries.get(id);
      if (e === undefined) return undefined;
      if (e.added !== undefined) await e.added.catch(() => undefined);
      if (entries.get(id) !== e) return undefined;
      entries.delete(id);
      order.removed();
      closedEntries.delete(e);
      e.inSeven = false;
      if (e.phase === "live" || e.phase === "removing") {
        const final = await new Promise<Counters>((resolve) => {
          (e.removed ??= []).push(resolve);
          if (e.phase === "live") {
            e.phase = "removing";
            e.endCode = undefined;
            removes.push(e);
          }
          void schedule();
        });
        e.counters = final;
      }
      return { ...snapshotOf(e), state: "closing1", endTime: clock.now() };
    },

    sessions(opts) {
      return listing(opts?.afterId);
    },

    takeClosed(max: number): ClosedLease {
      checkOpen();
      const leased: Entry[] = [];
      for (const e of closedEntries) {
        if (e.leased) continue;
        leased.push(e);
      }
      leased.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      leased.length = Math.min(leased.length, max);
      for (const e of leased) e.leased = true;
      let settled = false;
      return {
        sessions: leased.map(snapshotOf),
        settle(deliveredIds) {
          if (settled) return;
          settled = true;
          const delivered = new Set(deliveredIds);
          for (const e of leased) {
            e.leased = false;
            if (delivered.has(e.id) && entries.get(e.id) === e) {
              entries.delete(e.id);
              order.removed();
              closedEntries.delete(e);
            }
          }
        },
      };
    },

    size() {
      return entries.size;
    },

    stats(): SwitchStats {
      return { capacity, closedPending: closedEntries.size };
    },

    async reap() {
      checkOpen();
      await schedule();
      await reap();
      await schedule();
    },

    async pollEvents() {
      checkOpen();
      drainEvents();
      await schedule();
    },

    async flush() {
      while (scheduled !== undefined) await scheduled;
    },

    kernelTuple(id) {
      const e = entries.get(id);
      return e !== undefined && (e.phase === "live" || e.phase === "removing") ? tupleOfKey(e.key) : undefined;
    },

    async close() {
      if (closed) return;
      closed = true;
      if (eventTimer !== undefined) clearInterval(eventTimer);
      if (reapTimer !== undefined) clearInterval(reapTimer);
      await reaping?.catch(() => undefined);
      while (scheduled !== undefined) await scheduled;
      try {
        ct.flush(filter);
      } finally {
        ct.close();
        await runner.script(teardownScript(table));
      }
    },
  };
  return backend;
}

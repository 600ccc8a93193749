import {
  UINT64_MAX,
  ValidationError,
  type CloseCode,
  type Session,
  type SessionSpec,
  type SessionState,
} from "@sessionoffload/offload-api";
import type {
  AddOptions,
  AddResult,
  ClosedLease,
  IterateOptions,
  SwitchBackend,
  SwitchStats,
  TrafficDelta,
} from "../backend";
import { checkAddArguments } from "../add-checks";
import { newSession } from "../new-session";
import { createTrafficModel, type TrafficModel, type TrafficTarget } from "../traffic-model";
import { createDeadlineHeap } from "./deadline-heap";
import { createIdIndex } from "./id-index";
import { createIdOrder } from "./id-order";
import { createInterner } from "./interner";
import {
  CLOSE_CODES,
  closeCodeNumber,
  KIND_TUPLE_MASK,
  KIND_UDP,
  packKind,
  STATE_CLOSED,
  STATES,
  ACTIONS,
} from "./kind";
import { resolveMemorySwitchOptions, type MemorySwitchOptions } from "./options";
import { createSlotList } from "./slot-list";
import {
  ADDRESS_BYTES,
  createSlotStore,
  FREE_STATE,
  IN_BYTES,
  IN_PACKETS,
  NO_SLOT,
  OUT_BYTES,
  OUT_PACKETS,
} from "./slot-store";
import { createTupleIndex, hashTuple, type TupleKey } from "./tuple-index";

/** The simulated switch: a SwitchBackend that answers synchronously, plus the controls a test or driver uses. */
export interface MemorySwitch extends SwitchBackend {
  add(spec: SessionSpec, options?: AddOptions): AddResult;
  get(id: bigint): Session | undefined;
  delete(id: bigint): Session | undefined;
  sessions(options?: IterateOptions): Iterable<Session>;
  takeClosed(max: number): ClosedLease & { settle(deliveredIds: readonly bigint[]): void };
  size(): number;
  stats(): SwitchStats;
  close(): void;
  /** Runs one tick at the clock's current time: the traffic model (if on), then the idle-timeout sweep. */
  step(): void;
  /** Ends a live session as the data plane would (`finAck`, `rst` or `timeout`); throws for an unknown or ended id. */
  endSession(id: bigint, code: Exclude<CloseCode, "notClosed">): void;
  /** Adds non-negative counter increments to a live session (wrapping at 2^64) and refreshes its idle timer. */
  addTraffic(id: bigint, delta: TrafficDelta): void;
  /**
   * Feeds the next step of a live TCP session's FIN handshake: established ->
   * closing1 (first FIN) -> closing2 (second FIN) -> closed with `finAck`
   * (last ACK). Answers the new state; throws for an unknown, ended or UDP session.
   */
  finStep(id: bigint): SessionState;
}

function checkPort(field: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ValidationError(field, `port ${port} is outside 1..65535`);
  }
}

function checkSpec(spec: SessionSpec): void {
  const want = spec.ipVersion === "ipv6" ? 16 : 4;
  if (spec.ipVersion !== "ipv4" && spec.ipVersion !== "ipv6") {
    throw new ValidationError("ipVersion", `must be ipv4 or ipv6, got ${String(spec.ipVersion)}`);
  }
  if (spec.sourceIp.length !== want) {
    throw new ValidationError("sourceIp", `${spec.ipVersion} needs ${want} address bytes, got ${spec.sourceIp.length}`);
  }
  if (spec.destinationIp.length !== want) {
    throw new ValidationError(
      "destinationIp",
      `${spec.ipVersion} needs ${want} address bytes, got ${spec.destinationIp.length}`,
    );
  }
  checkPort("sourcePort", spec.sourcePort);
  checkPort("destinationPort", spec.destinationPort);
  if (spec.protocol !== "tcp" && spec.protocol !== "udp") {
    throw new ValidationError("protocolId", `only tcp and udp can be offloaded, got ${String(spec.protocol)}`);
  }
  if (spec.action !== "forward" && spec.action !== "drop" && !ACTIONS.includes(spec.action)) {
    throw new ValidationError("action.actionType", `unknown action ${String(spec.action)}`);
  }
}

const LOW_MASK = 0xffff_ffffn;
const TWO_32 = 4_294_967_296;
const NS_PER_MS = 1_000_000n;

/** The id of the halves (high, low). */
function idOf(high: number, low: number): bigint {
  return high === 0 ? BigInt(low) : (BigInt(high) << 32n) | BigInt(low);
}

/** Copies 4 or 16 address bytes into a 16-byte cell, zeroing the rest: the caller's buffer is never kept. */
function copyAddress(to: Uint8Array, base: number, from: Uint8Array): void {
  const n = from.length;
  for (let i = 0; i < n; i++) to[base + i] = from[i] ?? 0;
  for (let i = n; i < ADDRESS_BYTES; i++) to[base + i] = 0;
}

/**
 * Makes the simulated switch (see `MemorySwitchOptions` for defaults).
 *
 * The table is a struct of typed arrays (about 200 bytes per session at a
 * million): add, get and delete are O(1) (plus O(log n) for an id that is not
 * the largest so far: see `id-order.ts`); the idle-timeout sweep only visits
 * expired sessions (per-protocol LRU lists, and a deadline heap for sessions
 * with their own timeout); iteration is lazy in ascending id order. Ids a
 * client assigns (`add(spec, { id })`) may be any of 1..2^64-1. Ids the switch
 * assigns come from a counter starting at `firstId` that skips ids in the
 * table and never goes back; when it would pass 2^64-1, `add` throws a
 * RangeError (the id space is exhausted) instead of wrapping. Throws
 * SwitchOptionError for bad options, and `add` throws ValidationError for a
 * malformed spec or id.
 */
export function createMemorySwitch(options: MemorySwitchOptions = {}): MemorySwitch {
  const opts = resolveMemorySwitchOptions(options);
  const { capacity, clock, firstId } = opts;
  const store = createSlotStore(Math.min(capacity, 1024), capacity);
  const tuples = createTupleIndex(store, store.allocated);
  const lifs = createInterner();
  const slotOf = createIdIndex(store, store.allocated);
  const order = createIdOrder(store);
  const ownDeadlines = createDeadlineHeap();
  const tcpIdle = createSlotList(store);
  const udpIdle = createSlotList(store);
  const closedQueue = createSlotList(store);
  const traffic: TrafficModel | undefined =
    opts.traffic === undefined ? undefined : createTrafficModel(opts.traffic, opts.random);
  // The switch's id counter, as 32-bit halves; `exhausted` once it passed 2^64-1.
  let nextHigh = Number(firstId >> 32n);
  let nextLow = Number(firstId & LOW_MASK);
  let exhausted = false;
  // Each add's serial (see SlotStore.serial), and the live sessions with their own idle timeout.
  let serials = 0;
  let ownTimed = 0;
  let closed = false;
  const key: { -readonly [K in keyof TupleKey]: TupleKey[K] } = {
    inLif: 0,
    outLif: 0,
    tupleKind: 0,
    sourceIp: new Uint8Array(0),
    sourcePort: 0,
    destinationIp: new Uint8Array(0),
    destinationPort: 0,
  };

  function assertOpen(): void {
    if (closed) throw new Error("memory switch: closed");
  }

  function idleList(slot: number) {
    return ((store.kind[slot] ?? 0) & KIND_UDP) !== 0 ? udpIdle : tcpIdle;
  }

  /** Takes a live slot out of idle tracking: its protocol's list, or the count of own timeouts (heap entries go stale). */
  function leaveIdle(slot: number): void {
    if (store.idleMs[slot] === 0) idleList(slot).remove(slot);
    else ownTimed--;
  }

  function advanceCounter(): void {
    nextLow++;
    if (nextLow === TWO_32) {
      nextLow = 0;
      nextHigh++;
      if (nextHigh === TWO_32) exhausted = true;
    }
  }

  /** Pushes a deadline of a slot with its own timeout; drops stale entries once they outnumber the live ones. */
  function pushDeadline(slot: number, deadlineMs: number): void {
    if (ownDeadlines.size > 2 * ownTimed + 1024) {
      ownDeadlines.compact((s, serial) => store.serial[s] === serial && isLive(s) && store.idleMs[s] !== 0);
    }
    ownDeadlines.push(deadlineMs, slot, store.serial[slot] ?? 0);
  }

  function readSession(slot: number): Session {
    const s = store;
    const c = slot * 4;
    const state = s.state[slot] ?? 0;
    return {
      id: idOf(s.idHigh[slot] ?? 0, s.idLow[slot] ?? 0),
      state: STATES[state] ?? "closed",
      closeCode: CLOSE_CODES[s.closeCode[slot] ?? 0] ?? "notClosed",
      inPackets: s.counters[c + IN_PACKETS] ?? 0n,
      outPackets: s.counters[c + OUT_PACKETS] ?? 0n,
      inBytes: s.counters[c + IN_BYTES] ?? 0n,
      outBytes: s.counters[c + OUT_BYTES] ?? 0n,
      startTime: s.startTime[slot] ?? 0n,
      endTime: state === STATE_CLOSED ? s.endTime[slot] : undefined,
    };
  }

  /** The slot of a present id, or NO_SLOT. */
  function find(id: bigint): number {
    if (typeof id !== "bigint" || id < 1n || id > UINT64_MAX) return NO_SLOT;
    return slotOf.get(Number(id >> 32n), Number(id & LOW_MASK));
  }

  function liveSlot(id: bigint, what: string): number {
    const slot = find(id);
    if (slot === NO_SLOT) throw new RangeError(`${what}: no session with id ${id}`);
    if (store.state[slot] === STATE_CLOSED) throw new RangeError(`${what}: session ${id} has already ended`);
    return slot;
  }

  function isLive(slot: number): boolean {
    return (store.state[slot] ?? STATE_CLOSED) < STATE_CLOSED;
  }

  function touch(slot: number, now: bigint): void {
    store.lastSeen[slot] = now;
    // A session with its own timeout is found by its (lazy) deadline: nothing to move.
    if (store.idleMs[slot] !== 0) return;
    const list = idleList(slot);
    list.remove(slot);
    list.push(slot);
  }

  /** Ends a live slot: out of the idle list and the tuple index, into the closed queue. */
  function endSlot(slot: number, code: number, now: bigint): void {
    leaveIdle(slot);
    tuples.remove(slot);
    store.state[slot] = STATE_CLOSED;
    store.closeCode[slot] = code;
    store.endTime[slot] = now;
    closedQueue.push(slot);
  }

  /** Removes a slot from the table entirely; it must be out of every list and the index. */
  function freeSlot(slot: number): void {
    slotOf.remove(slot);
    order.remove(slot);
    lifs.release(store.inLif[slot] ?? 0);
    lifs.release(store.outLif[slot] ?? 0);
    lifs.release(store.nextHop[slot] ?? 0);
    store.release(slot);
  }

  function finStepSlot(slot: number, now: bigint): boolean {
    const state = store.state[slot] ?? 0;
    if (state < 2) {
      store.state[slot] = state + 1;
      return false;
    }
    endSlot(slot, closeCodeNumber("finAck"), now);
    return true;
  }

  function addCounters(slot: number, inP: bigint, outP: bigint, inB: bigint, outB: bigint): void {
    const c = slot * 4;
    const counters = store.counters;
    counters[c + IN_PACKETS] = (counters[c + IN_PACKETS] ?? 0n) + inP;
    counters[c + OUT_PACKETS] = (counters[c + OUT_PACKETS] ?? 0n) + outP;
    counters[c + IN_BYTES] = (counters[c + IN_BYTES] ?? 0n) + inB;
    counters[c + OUT_BYTES] = (counters[c + OUT_BYTES] ?? 0n) + outB;
  }

  function sweep(list: ReturnType<typeof createSlotList>, timeoutNs: bigint, now: bigint): void {
    const code = closeCodeNumber("timeout");
    for (let slot = list.head; slot !== NO_SLOT; slot = list.head) {
      if (now - (store.lastSeen[slot] ?? 0n) < timeoutNs) return;
      endSlot(slot, code, now);
    }
  }

  /** Ends the sessions with their own timeout whose deadline has passed; re-arms those that saw traffic since. */
  function sweepOwn(now: bigint): void {
    const code = closeCodeNumber("timeout");
    const nowMs = Number(now / NS_PER_MS);
    while (ownDeadlines.peekDeadline() <= nowMs) {
      ownDeadlines.pop();
      const slot = ownDeadlines.poppedSlot;
      if (store.serial[slot] !== ownDeadlines.poppedSerial || !isLive(slot)) continue;
      const idleNs = BigInt(store.idleMs[slot] ?? 0) * NS_PER_MS;
      const lastSeen = store.lastSeen[slot] ?? 0n;
      if (now - lastSeen >= idleNs) endSlot(slot, code, now);
      // Whole milliseconds, rounded up, and always later than now: the loop ends.
      else pushDeadline(slot, Math.max(Number((lastSeen + idleNs + NS_PER_MS - 1n) / NS_PER_MS), nowMs + 1));
    }
  }

  let tickNow = 0n;
  const target: TrafficTarget = {
    slotCount: () => store.highWater,
    isLive,
    isTcp: (slot) => ((store.kind[slot] ?? 0) & KIND_UDP) === 0,
    isEstablished: (slot) => store.state[slot] === 0,
    serialOf: (slot) => store.serial[slot] ?? -1,
    addTraffic(slot, inP, outP, inB, outB) {
      if (inP + outP === 0) return;
      addCounters(slot, BigInt(inP), BigInt(outP), BigInt(inB), BigInt(outB));
      touch(slot, tickNow);
    },
    finStep: (slot) => finStepSlot(slot, tickNow),
    reset: (slot) => endSlot(slot, closeCodeNumber("rst"), tickNow),
  };

  function step(): void {
    assertOpen();
    tickNow = clock.now();
    traffic?.tick(target);
    sweep(tcpIdle, opts.tcpIdleTimeoutNs, tickNow);
    sweep(udpIdle, opts.udpIdleTimeoutNs, tickNow);
    sweepOwn(tickNow);
  }

  const timer = opts.tickIntervalMs > 0 ? setInterval(step, opts.tickIntervalMs) : undefined;
  timer?.unref();

  function add(spec: SessionSpec, addOptions?: AddOptions): AddResult {
    assertOpen();
    checkSpec(spec);
    checkAddArguments(spec, addOptions);
    const wanted = addOptions?.id;
    let high = 0;
    let low = 0;
    if (wanted !== undefined) {
      // Ids below 2^32 (the common case) without BigInt arithmetic, which allocates.
      if (wanted <= LOW_MASK) {
        low = Number(wanted);
      } else {
        high = Number(wanted >> 32n);
        low = Number(wanted & LOW_MASK);
      }
      if (slotOf.get(high, low) !== NO_SLOT) return { kind: "alreadyExists", id: wanted };
    }
    const tupleKind = packKind(spec.protocol, spec.ipVersion, spec.action) & KIND_TUPLE_MASK;
    key.inLif = lifs.lookup(spec.inLif);
    key.outLif = lifs.lookup(spec.outLif);
    key.tupleKind = tupleKind;
    key.sourceIp = spec.sourceIp;
    key.sourcePort = spec.sourcePort;
    key.destinationIp = spec.destinationIp;
    key.destinationPort = spec.destinationPort;
    let hash = hashTuple(key);
    const known = key.inLif >= 0 && key.outLif >= 0;
    if (known) {
      const existing = tuples.find(key, hash);
      if (existing !== NO_SLOT) {
        return { kind: "alreadyExists", id: idOf(store.idHigh[existing] ?? 0, store.idLow[existing] ?? 0) };
      }
    }
    if (store.used >= capacity) return { kind: "tableFull" };
    if (wanted === undefined) {
      // Ids a client chose are skipped: one id is never held by two entries.
      while (!exhausted && slotOf.get(nextHigh, nextLow) !== NO_SLOT) advanceCounter();
      if (exhausted) {
        throw new RangeError(`add: session id space exhausted: the next id would exceed 2^64-1 (firstId ${firstId})`);
      }
      high = nextHigh;
      low = nextLow;
      advanceCounter();
    }
    const grownFrom = store.allocated;
    const slot = store.allocate();
    if (slot === NO_SLOT) return { kind: "tableFull" };
    if (store.allocated !== grownFrom) rebuildIndex();
    const now = clock.now();
    const s = store;
    s.idHigh[slot] = high;
    s.idLow[slot] = low;
    s.serial[slot] = ++serials;
    const idleMs = spec.idleTimeoutMs ?? 0;
    s.idleMs[slot] = idleMs;
    const base = slot * ADDRESS_BYTES;
    copyAddress(s.sourceIp, base, spec.sourceIp);
    copyAddress(s.destinationIp, base, spec.destinationIp);
    s.sourcePort[slot] = spec.sourcePort;
    s.destinationPort[slot] = spec.destinationPort;
    // Known lifs were looked up above: only their counts change.
    s.inLif[slot] = key.inLif = known ? lifs.retain(key.inLif) : lifs.intern(spec.inLif);
    s.outLif[slot] = key.outLif = known ? lifs.retain(key.outLif) : lifs.intern(spec.outLif);
    // A new lif string has just got its index: the hash must use it.
    if (!known) hash = hashTuple(key);
    s.nextHop[slot] = lifs.intern(spec.nextHop);
    s.kind[slot] = packKind(spec.protocol, spec.ipVersion, spec.action);
    s.state[slot] = 0;
    s.closeCode[slot] = 0;
    s.leased[slot] = 0;
    const c = slot * 4;
    s.counters[c] = 0n;
    s.counters[c + 1] = 0n;
    s.counters[c + 2] = 0n;
    s.counters[c + 3] = 0n;
    s.startTime[slot] = now;
    s.endTime[slot] = 0n;
    s.lastSeen[slot] = now;
    s.hash[slot] = hash;
    tuples.insert(slot);
    if (idleMs === 0) {
      idleList(slot).push(slot);
    } else {
      ownTimed++;
      pushDeadline(slot, Number(now / NS_PER_MS) + idleMs + 1);
    }
    slotOf.insert(slot);
    order.insert(slot);
    return { kind: "accepted", session: newSession(wanted ?? idOf(high, low), now) };
  }

  const isUsed = (slot: number): boolean => store.state[slot] !== FREE_STATE;

  /** After the store grew: both indexes are re-sized (amortised O(1) per add). */
  function rebuildIndex(): void {
    tuples.rebuild(store.allocated, store.highWater, isLive);
    slotOf.rebuild(store.allocated, store.highWater, isUsed);
  }

  function takeClosed(max: number): ClosedLease & { settle(deliveredIds: readonly bigint[]): void } {
    assertOpen();
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`takeClosed: max must be an integer >= 1, got ${max}`);
    const slots: number[] = [];
    while (slots.length < max && closedQueue.head !== NO_SLOT) {
      const slot = closedQueue.head;
      closedQueue.remove(slot);
      store.leased[slot] = 1;
      slots.push(slot);
    }
    slots.sort((a, b) => {
      const high = (store.idHigh[a] ?? 0) - (store.idHigh[b] ?? 0);
      return high !== 0 ? high : (store.idLow[a] ?? 0) - (store.idLow[b] ?? 0);
    });
    const leaseSerials = slots.map((slot) => store.serial[slot] ?? 0);
    const sessions = slots.map(readSession);
    let settled = false;
    return {
      sessions,
      settle(deliveredIds) {
        if (settled) throw new Error("settle: this lease is already settled");
        settled = true;
        const delivered = new Set<bigint>(deliveredIds);
        for (let i = slots.length - 1; i >= 0; i--) {
          const slot = slots[i] ?? 0;
          // Deleted meanwhile (and perhaps reused by another session): not ours any more.
          if (store.serial[slot] !== leaseSerials[i] || store.leased[slot] !== 1) continue;
          store.leased[slot] = 0;
          if (delivered.has(sessions[i]?.id ?? 0n)) freeSlot(slot);
          else closedQueue.unshift(slot);
        }
      },
    };
  }

  function* iterate(afterHigh: number, afterLow: number): Generator<Session, void, undefined> {
    for (const slot of order.iterate(afterHigh, afterLow)) yield readSession(slot);
  }

  return {
    add,
    get(id) {
      assertOpen();
      const slot = find(id);
      return slot === NO_SLOT ? undefined : readSession(slot);
    },
    delete(id) {
      assertOpen();
      const slot = find(id);
      if (slot === NO_SLOT) return undefined;
      const now = clock.now();
      if (isLive(slot)) {
        leaveIdle(slot);
        tuples.remove(slot);
      } else if (store.leased[slot] === 0) {
        closedQueue.remove(slot);
      }
      const session: Session = { ...readSession(slot), state: "closing1", endTime: now };
      freeSlot(slot);
      return session;
    },
    sessions(iterateOptions = {}) {
      assertOpen();
      const afterId = iterateOptions.afterId;
      if (afterId === undefined || afterId < 1n) return iterate(-1, 0);
      if (afterId >= UINT64_MAX) return iterate(TWO_32, 0);
      return iterate(Number(afterId >> 32n), Number(afterId & LOW_MASK));
    },
    takeClosed,
    size: () => store.used,
    // Every live slot is in one of the idle lists or has its own timeout; the other used slots have ended.
    stats: () => ({ capacity, closedPending: store.used - tcpIdle.length - udpIdle.length - ownTimed }),
    close() {
      if (timer !== undefined) clearInterval(timer);
      closed = true;
    },
    step,
    endSession(id, code) {
      assertOpen();
      const number = closeCodeNumber(code);
      if (number < 1) throw new RangeError(`endSession: code must be finAck, rst or timeout, got ${String(code)}`);
      const slot = liveSlot(id, "endSession");
      if (code === "rst" || code === "finAck") {
        if ((store.kind[slot] ?? 0) & KIND_UDP) {
          throw new RangeError(`endSession: session ${id} is UDP; only timeout can end it`);
        }
      }
      endSlot(slot, number, clock.now());
    },
    addTraffic(id, delta) {
      assertOpen();
      for (const field of ["inPackets", "outPackets", "inBytes", "outBytes"] as const) {
        const value = delta[field];
        if (typeof value !== "bigint" || value < 0n || value > UINT64_MAX) {
          throw new RangeError(`addTraffic: ${field} must be a bigint in 0..2^64-1, got ${String(value)}`);
        }
      }
      const slot = liveSlot(id, "addTraffic");
      addCounters(slot, delta.inPackets, delta.outPackets, delta.inBytes, delta.outBytes);
      touch(slot, clock.now());
    },
    finStep(id) {
      assertOpen();
      const slot = liveSlot(id, "finStep");
      if ((store.kind[slot] ?? 0) & KIND_UDP) throw new RangeError(`finStep: session ${id} is UDP and has no FIN`);
      finStepSlot(slot, clock.now());
      return STATES[store.state[slot] ?? 0] ?? "closed";
    },
  };
}

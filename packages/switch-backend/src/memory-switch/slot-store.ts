/** Bytes kept per address: IPv4 uses the first 4 of 16. */
export const ADDRESS_BYTES = 16;

/** Counter columns in `SlotStore.counters` (4 per slot). */
export const IN_PACKETS = 0;
/** See IN_PACKETS. */
export const OUT_PACKETS = 1;
/** See IN_PACKETS. */
export const IN_BYTES = 2;
/** See IN_PACKETS. */
export const OUT_BYTES = 3;

/** No slot (list ends, empty index cells). */
export const NO_SLOT = -1;

/** Size of an open-addressing index over `slots` slots: a power of two, at most half full. */
export function indexTableSizeFor(slots: number): number {
  let size = 16;
  while (size < slots * 2) size *= 2;
  return size;
}

/**
 * The session table as a struct of arrays: slot `i` of each typed array
 * holds one field of one session, so a session costs no JS object and no
 * BigInt while it rests. Arrays grow by doubling up to `maxSlots`; freed
 * slots are reused (the free list is chained through `next`).
 */
export interface SlotStore {
  /** Slots allocated in the arrays. */
  readonly allocated: number;
  /** Slots in use. */
  readonly used: number;
  /** Every slot below this index has been used at least once. */
  readonly highWater: number;
  /** High and low 32 bits of the session's id. */
  idHigh: Uint32Array;
  idLow: Uint32Array;
  /** A number unique to the session in the slot (an add counter): recognises a slot reused by another session. */
  serial: Float64Array;
  /** The session's own idle timeout in ms; 0 for the protocol's default. */
  idleMs: Float64Array;
  sourceIp: Uint8Array;
  destinationIp: Uint8Array;
  sourcePort: Uint16Array;
  destinationPort: Uint16Array;
  /** Interned string indices. */
  inLif: Uint32Array;
  outLif: Uint32Array;
  nextHop: Uint32Array;
  /** Packed protocol, IP version and action: see `packKind`. */
  kind: Uint8Array;
  /** 0 established, 1 closing1, 2 closing2, 3 closed; 255 for a free slot. */
  state: Uint8Array;
  /** 0 notClosed, 1 finAck, 2 rst, 3 timeout. */
  closeCode: Uint8Array;
  /** 1 while a closed-session lease holds the slot. */
  leased: Uint8Array;
  /** 4 columns per slot: IN_PACKETS, OUT_PACKETS, IN_BYTES, OUT_BYTES. */
  counters: BigUint64Array;
  startTime: BigInt64Array;
  endTime: BigInt64Array;
  /** Last traffic (or the start), for idle timeouts. */
  lastSeen: BigInt64Array;
  /** Intrusive doubly linked list links (one list at a time per slot). */
  prev: Int32Array;
  next: Int32Array;
  /** Hash of the slot's 7-tuple. */
  hash: Uint32Array;
  /** Takes a free slot, growing the arrays if needed; NO_SLOT when `maxSlots` are in use. */
  allocate(): number;
  /** Returns a slot to the free list. */
  release(slot: number): void;
}

/** Slot state of a free slot. */
export const FREE_STATE = 255;

/** Copies `old` into the start of `fresh` and answers `fresh`. */
function grown<T extends { set(source: T): void }>(old: T, fresh: T): T {
  fresh.set(old);
  return fresh;
}

/**
 * Makes an empty store that allocates `initialSlots` (at least 1, at most
 * `maxSlots`) and grows by doubling up to `maxSlots`.
 */
export function createSlotStore(initialSlots: number, maxSlots: number): SlotStore {
  let allocated = 0;
  let used = 0;
  let highWater = 0;
  let freeHead = NO_SLOT;

  const store: SlotStore = {
    get allocated() {
      return allocated;
    },
    get used() {
      return used;
    },
    get highWater() {
      return highWater;
    },
    idHigh: new Uint32Array(0),
    idLow: new Uint32Array(0),
    serial: new Float64Array(0),
    idleMs: new Float64Array(0),
    sourceIp: new Uint8Array(0),
    destinationIp: new Uint8Array(0),
    sourcePort: new Uint16Array(0),
    destinationPort: new Uint16Array(0),
    inLif: new Uint32Array(0),
    outLif: new Uint32Array(0),
    nextHop: new Uint32Array(0),
    kind: new Uint8Array(0),
    state: new Uint8Array(0),
    closeCode: new Uint8Array(0),
    leased: new Uint8Array(0),
    counters: new BigUint64Array(0),
    startTime: new BigInt64Array(0),
    endTime: new BigInt64Array(0),
    lastSeen: new BigInt64Array(0),
    prev: new Int32Array(0),
    next: new Int32Array(0),
    hash: new Uint32Array(0),
    allocate() {
      if (freeHead !== NO_SLOT) {
        const slot = freeHead;
        freeHead = store.next[slot] ?? NO_SLOT;
        used++;
        return slot;
      }
      if (highWater === allocated) {
        if (allocated >= maxSlots) return NO_SLOT;
        grow(Math.min(maxSlots, Math.max(1, allocated * 2)));
      }
      used++;
      return highWater++;
    },
    release(slot) {
      store.state[slot] = FREE_STATE;
      store.leased[slot] = 0;
      store.next[slot] = freeHead;
      freeHead = slot;
      used--;
    },
  };

  function grow(n: number): void {
    const s = store;
    s.idHigh = grown(s.idHigh, new Uint32Array(n));
    s.idLow = grown(s.idLow, new Uint32Array(n));
    s.serial = grown(s.serial, new Float64Array(n));
    s.idleMs = grown(s.idleMs, new Float64Array(n));
    s.sourceIp = grown(s.sourceIp, new Uint8Array(n * ADDRESS_BYTES));
    s.destinationIp = grown(s.destinationIp, new Uint8Array(n * ADDRESS_BYTES));
    s.sourcePort = grown(s.sourcePort, new Uint16Array(n));
    s.destinationPort = grown(s.destinationPort, new Uint16Array(n));
    s.inLif = grown(s.inLif, new Uint32Array(n));
    s.outLif = grown(s.outLif, new Uint32Array(n));
    s.nextHop = grown(s.nextHop, new Uint32Array(n));
    s.kind = grown(s.kind, new Uint8Array(n));
    s.state = grown(s.state, new Uint8Array(n).fill(FREE_STATE));
    s.closeCode = grown(s.closeCode, new Uint8Array(n));
    s.leased = grown(s.leased, new Uint8Array(n));
    s.counters = grown(s.counters, new BigUint64Array(n * 4));
    s.startTime = grown(s.startTime, new BigInt64Array(n));
    s.endTime = grown(s.endTime, new BigInt64Array(n));
    s.lastSeen = grown(s.lastSeen, new BigInt64Array(n));
    s.prev = grown(s.prev, new Int32Array(n));
    s.next = grown(s.next, new Int32Array(n));
    s.hash = grown(s.hash, new Uint32Array(n));
    allocated = n;
  }

  grow(Math.max(1, Math.min(initialSlots, maxSlots)));
  return store;
}

/**
 * Empties cell `hole` of a linear-probing index table (cells hold slot + 1,
 * 0 is empty) by backward-shift deletion: each later member of the probe run
 * whose home cell (`homeOf(cell)`) does not lie cyclically in (hole, j] moves
 * into the hole, which moves to where it was.
 */
export function backwardShiftDelete(
  table: Int32Array,
  mask: number,
  hole: number,
  homeOf: (cell: number) => number,
): void {
  let i = hole;
  for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
    const cell = table[j] ?? 0;
    if (cell === 0) break;
    const home = homeOf(cell);
    const stays = i <= j ? i < home && home <= j : i < home || home <= j;
    if (stays) continue;
    table[i] = cell;
    i = j;
  }
  table[i] = 0;
}

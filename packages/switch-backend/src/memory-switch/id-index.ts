import { backwardShiftDelete, indexTableSizeFor, NO_SLOT, type SlotStore } from "./slot-store";

/**
 * Id -> slot, O(1): open addressing with linear probing in an Int32Array
 * (slot + 1; 0 is empty), at most half full, backward-shift deletion. Ids are
 * unsigned 64-bit, kept as (high, low) 32-bit halves in `store.idHigh` and
 * `store.idLow`. The home cell keeps runs of 16 consecutive ids (a block)
 * in 16 consecutive cells, one cache line, and places each block by a
 * Fibonacci hash of both halves: ids a client counts up are looked up and
 * inserted in memory just touched, yet sequential ids do not form one long
 * probe run (deletes would scan it).
 * A V8 Map of a million BigInts costs many times the memory and most of the add time.
 */
export interface IdIndex {
  /** The slot holding the id (high, low), or NO_SLOT. */
  get(high: number, low: number): number;
  /** Adds `slot`, whose id is set and not yet indexed. */
  insert(slot: number): void;
  /** Removes `slot`, which is indexed. */
  remove(slot: number): void;
  /** Re-sizes for `slots` slots and re-inserts each slot below `count` that `isMember` accepts. */
  rebuild(slots: number, count: number, isMember: (slot: number) => boolean): void;
}

/** Consecutive ids per block: 2^4 = 16 cells of 4 bytes, one 64-byte cache line. */
const BLOCK_BITS = 4;
const BLOCK_MASK = (1 << BLOCK_BITS) - 1;

/** How far to shift a 32-bit hash to get a block number of a table of `size` cells. */
function blockShift(size: number): number {
  return Math.min(31, 32 - Math.log2(size) + BLOCK_BITS);
}

/** Makes an empty index over `store`, sized for `slots` slots. */
export function createIdIndex(store: SlotStore, slots: number): IdIndex {
  let table = new Int32Array(indexTableSizeFor(slots));
  let mask = table.length - 1;

  // The block's place: the top bits of the Fibonacci hash (at most 31: `>>> 32` would shift by 0).
  let shift = blockShift(table.length);
  const home = (high: number, low: number): number =>
    (((Math.imul((low >>> BLOCK_BITS) ^ Math.imul(high, 0x85ebca6b), 0x9e3779b1) >>> shift) << BLOCK_BITS) |
      (low & BLOCK_MASK)) &
    mask;
  const homeOfCell = (cell: number): number => home(store.idHigh[cell - 1] ?? 0, store.idLow[cell - 1] ?? 0);

  function insert(slot: number): void {
    let i = home(store.idHigh[slot] ?? 0, store.idLow[slot] ?? 0);
    while (table[i] !== 0) i = (i + 1) & mask;
    table[i] = slot + 1;
  }

  return {
    get(high, low) {
      for (let i = home(high, low); ; i = (i + 1) & mask) {
        const cell = table[i] ?? 0;
        if (cell === 0) return NO_SLOT;
        if (store.idLow[cell - 1] === low && store.idHigh[cell - 1] === high) return cell - 1;
      }
    },
    insert,
    remove(slot) {
      let i = home(store.idHigh[slot] ?? 0, store.idLow[slot] ?? 0);
      while (table[i] !== slot + 1) {
        if (table[i] === 0) throw new Error(`id index: slot ${slot} is not indexed`);
        i = (i + 1) & mask;
      }
      backwardShiftDelete(table, mask, i, homeOfCell);
    },
    rebuild(slots, count, isMember) {
      table = new Int32Array(indexTableSizeFor(slots));
      mask = table.length - 1;
      shift = blockShift(table.length);
      for (let slot = 0; slot < count; slot++) if (isMember(slot)) insert(slot);
    },
  };
}

import { backwardShiftDelete, indexTableSizeFor, NO_SLOT, type SlotStore } from "./slot-store";

/**
 * Id offset -> slot, O(1): open addressing with linear probing in an
 * Int32Array (slot + 1; 0 is empty), at most half full, backward-shift
 * deletion. The home cell is a Fibonacci hash of the offset. Keys are read from `store.offset`.
 * A V8 Map of a million numbers costs ~5x the memory and most of the add time.
 */
export interface IdIndex {
  /** The slot holding `offset`, or NO_SLOT. */
  get(offset: number): number;
  /** Adds `slot`, whose `store.offset` is set and not yet indexed. */
  insert(slot: number): void;
  /** Removes `slot`, which is indexed. */
  remove(slot: number): void;
  /** Re-sizes for `slots` slots and re-inserts the given slots. */
  rebuild(slots: number, members: Iterable<number>): void;
}

/** Makes an empty index over `store`, sized for `slots` slots. */
export function createIdIndex(store: SlotStore, slots: number): IdIndex {
  let table = new Int32Array(indexTableSizeFor(slots));
  let mask = table.length - 1;

  let shift = 32 - Math.log2(table.length);
  // Fibonacci hashing: sequential ids must not form one long probe run (deletes would scan it).
  const home = (offset: number): number =>
    Math.imul((offset >>> 0) ^ Math.imul((offset / 4_294_967_296) | 0, 0x85ebca6b), 0x9e3779b1) >>> shift;
  const homeOfCell = (cell: number): number => home(store.offset[cell - 1] ?? 0);

  function insert(slot: number): void {
    let i = home(store.offset[slot] ?? 0);
    while (table[i] !== 0) i = (i + 1) & mask;
    table[i] = slot + 1;
  }

  return {
    get(offset) {
      for (let i = home(offset); ; i = (i + 1) & mask) {
        const cell = table[i] ?? 0;
        if (cell === 0) return NO_SLOT;
        if (store.offset[cell - 1] === offset) return cell - 1;
      }
    },
    insert,
    remove(slot) {
      let i = home(store.offset[slot] ?? 0);
      while (table[i] !== slot + 1) {
        if (table[i] === 0) throw new Error(`id index: slot ${slot} is not indexed`);
        i = (i + 1) & mask;
      }
      backwardShiftDelete(table, mask, i, homeOfCell);
    },
    rebuild(slots, members) {
      table = new Int32Array(indexTableSizeFor(slots));
      mask = table.length - 1;
      shift = 32 - Math.log2(table.length);
      for (const slot of members) insert(slot);
    },
  };
}

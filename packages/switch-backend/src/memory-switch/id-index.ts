import { backwardShiftDelete, indexTableSizeFor, NO_SLOT, type SlotStore } from "./slot-store";

/**
 * Id -> slot, O(1): open addressing with linear probing in an Int32Array
 * (slot + 1; 0 is empty), at most half full, backward-shift deletion. Ids are
 * unsigned 64-bit, kept as (high, low) 32-bit halves in `store.idHigh` and
 * `store.idLow`; the home cell is a Fibonacci hash of both halves, so that
 * sequential ids do not form one long probe run (deletes would scan it).
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

/** Makes an empty index over `store`, sized for `slots` slots. */
export function createIdIndex(store: SlotStore, slots: number): IdIndex {
  let table = new Int32Array(indexTableSizeFor(slots));
  let mask = table.length - 1;

  let shift = 32 - Math.log2(table.length);
  const home = (high: number, low: number): number =>
    Math.imul(low ^ Math.imul(high, 0x85ebca6b), 0x9e3779b1) >>> shift;
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
      shift = 32 - Math.log2(table.length);
      for (let slot = 0; slot < count; slot++) if (isMember(slot)) insert(slot);
    },
  };
}

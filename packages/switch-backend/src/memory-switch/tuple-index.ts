import { backwardShiftDelete, ADDRESS_BYTES, indexTableSizeFor, NO_SLOT, type SlotStore } from "./slot-store";

/** The 7-tuple of a session in the store's encoding (interned lifs, packed kind). */
export interface TupleKey {
  readonly inLif: number;
  readonly outLif: number;
  /** Protocol and IP version bits of the packed kind (see `kind.ts`). */
  readonly tupleKind: number;
  readonly sourceIp: Uint8Array;
  readonly sourcePort: number;
  readonly destinationIp: Uint8Array;
  readonly destinationPort: number;
}

/**
 * A hash index from 7-tuple to slot over the live sessions: open addressing
 * with linear probing in an Int32Array (slot + 1; 0 is empty) kept at most half
 * full, with backward-shift deletion (no tombstones). It stores no keys: a
 * probe compares against the slot's own fields.
 */
export interface TupleIndex {
  /** The live slot with this tuple, or NO_SLOT. */
  find(key: TupleKey, hash: number): number;
  /** Adds `slot`, whose `store.hash` is set and whose tuple is not in the index. */
  insert(slot: number): void;
  /** Removes `slot`, which is in the index. */
  remove(slot: number): void;
  /** Re-sizes for `slots` slots and re-inserts each slot below `count` that `isMember` accepts. */
  rebuild(slots: number, count: number, isMember: (slot: number) => boolean): void;
}

/** FNV-1a-style 32-bit hash of a tuple, finished with a murmur3 mix. */
export function hashTuple(key: TupleKey): number {
  let h = 0x811c9dc5;
  h = Math.imul(h ^ key.inLif, 0x01000193);
  h = Math.imul(h ^ key.outLif, 0x01000193);
  h = Math.imul(h ^ key.tupleKind, 0x01000193);
  h = Math.imul(h ^ ((key.sourcePort << 16) | key.destinationPort), 0x01000193);
  const src = key.sourceIp;
  const dst = key.destinationIp;
  for (let i = 0; i < src.length; i++) h = Math.imul(h ^ (src[i] ?? 0), 0x01000193);
  for (let i = 0; i < dst.length; i++) h = Math.imul(h ^ (dst[i] ?? 0), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Makes an empty index over `store`, sized for `slots` slots. */
export function createTupleIndex(store: SlotStore, slots: number): TupleIndex {
  let table = new Int32Array(indexTableSizeFor(slots));
  let mask = table.length - 1;
  const homeOfCell = (cell: number): number => (store.hash[cell - 1] ?? 0) & mask;

  function matches(slot: number, key: TupleKey): boolean {
    const s = store;
    if (s.inLif[slot] !== key.inLif || s.outLif[slot] !== key.outLif) return false;
    if (((s.kind[slot] ?? 0) & 3) !== key.tupleKind) return false;
    if (s.sourcePort[slot] !== key.sourcePort || s.destinationPort[slot] !== key.destinationPort) return false;
    const base = slot * ADDRESS_BYTES;
    const src = key.sourceIp;
    const dst = key.destinationIp;
    for (let i = 0; i < src.length; i++) if (s.sourceIp[base + i] !== src[i]) return false;
    for (let i = 0; i < dst.length; i++) if (s.destinationIp[base + i] !== dst[i]) return false;
    return true;
  }

  function insert(slot: number): void {
    let i = (store.hash[slot] ?? 0) & mask;
    while (table[i] !== 0) i = (i + 1) & mask;
    table[i] = slot + 1;
  }

  return {
    find(key, hash) {
      const want = hash >>> 0;
      for (let i = want & mask; ; i = (i + 1) & mask) {
        const cell = table[i] ?? 0;
        if (cell === 0) return NO_SLOT;
        const slot = cell - 1;
        if (store.hash[slot] === want && matches(slot, key)) return slot;
      }
    },
    insert,
    remove(slot) {
      let i = (store.hash[slot] ?? 0) & mask;
      while (table[i] !== slot + 1) {
        if (table[i] === 0) throw new Error(`tuple index: slot ${slot} is not indexed`);
        i = (i + 1) & mask;
      }
      backwardShiftDelete(table, mask, i, homeOfCell);
    },
    rebuild(slots, count, isMember) {
      table = new Int32Array(indexTableSizeFor(slots));
      mask = table.length - 1;
      for (let slot = 0; slot < count; slot++) if (isMember(slot)) insert(slot);
    },
  };
}

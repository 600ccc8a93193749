/** Most slots a chunk holds: inserts and deletes move at most this many entries. */
const CHUNK = 512;
/** A chunk that falls below this many entries is merged into a neighbour that has room. */
const MERGE_BELOW = CHUNK / 4;
/** Recent insert positions remembered: runs of increasing ids (clients counting up) that interleave. */
const HINTS = 8;

/** One sorted run of slots; its first slot's id is its key in the top level. */
interface Chunk {
  slots: Int32Array;
  length: number;
}

/**
 * The table's slots in ascending id order, for lazy iteration and `afterId`
 * seeks: a two-level sorted structure (a sorted array of chunks of at most
 * 512 slots each). Ids are unsigned 64-bit, compared as (high, low) 32-bit
 * halves read from the store, so the order holds no keys of its own. Ids that
 * arrive in increasing order (a switch's counter, a client counting up) are
 * appended in O(1), and so is an id that goes right after one of the last
 * few inserted (clients counting up in interleaved ranges); any other insert
 * or delete costs O(log n + 512).
 * Iterators survive every change: after one, they seek again past the last
 * id they produced, so a walk never repeats or skips an entry that stayed.
 */
export interface IdOrder {
  /** Adds `slot`, whose id is set and is not in the order. */
  insert(slot: number): void;
  /** Removes `slot`, which is in the order. */
  remove(slot: number): void;
  /** Slots whose id is greater than (afterHigh, afterLow), ascending; afterHigh -1 starts at the lowest id. */
  iterate(afterHigh: number, afterLow: number): Generator<number, void, undefined>;
}

/** Makes an empty order over the ids in `idHigh`/`idLow` (read at each comparison, since the store's arrays grow). */
export function createIdOrder(ids: { readonly idHigh: Uint32Array; readonly idLow: Uint32Array }): IdOrder {
  const chunks: Chunk[] = [];
  let version = 0;
  // Where recent inserts put their slots: chunk index and the position after the slot, one entry per
  // run of increasing ids (a client counting up), replaced round robin. Only a guess: `fitsAt` checks
  // the order at the spot before using it, so entries that changes made stale cost nothing but the check.
  const hintChunk = new Int32Array(HINTS);
  const hintAt = new Int32Array(HINTS);
  let hintNext = 0;
  let lastHint = 0;

  /** Negative, zero or positive as the id of `slot` is below, equal to or above (high, low). */
  function compare(slot: number, high: number, low: number): number {
    const h = ids.idHigh[slot] ?? 0;
    if (h !== high) return h < high ? -1 : 1;
    const l = ids.idLow[slot] ?? 0;
    return l === low ? 0 : l < low ? -1 : 1;
  }

  /** Index of the last chunk whose first id is <= (high, low), or 0. */
  function chunkFor(high: number, low: number): number {
    let lo = 0;
    let hi = chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      const chunk = chunks[mid] as Chunk;
      if (compare(chunk.slots[0] ?? 0, high, low) <= 0) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Index in `chunk` of the first slot whose id is > (high, low) (`orEqual`: >=). */
  function bound(chunk: Chunk, high: number, low: number, orEqual: boolean): number {
    let lo = 0;
    let hi = chunk.length;
    const limit = orEqual ? 0 : 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(chunk.slots[mid] ?? 0, high, low) < limit) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  function newChunk(): Chunk {
    return { slots: new Int32Array(CHUNK), length: 0 };
  }

  /** Puts `slot` at `at` in chunk `index` (which has room); `hint` is the hint entry to move there. */
  function place(index: number, chunk: Chunk, at: number, slot: number, hint: number): void {
    if (at < chunk.length) chunk.slots.copyWithin(at + 1, at, chunk.length);
    chunk.slots[at] = slot;
    chunk.length++;
    hintChunk[hint] = index;
    hintAt[hint] = at + 1;
  }

  /** True when (high, low) may go at `at` in chunk `index`: there is room, it is above the slot before and below the one after. */
  function fitsAt(index: number, at: number, high: number, low: number): boolean {
    const chunk = chunks[index];
    if (chunk === undefined || at < 1 || at > chunk.length || chunk.length === CHUNK) return false;
    if (compare(chunk.slots[at - 1] ?? 0, high, low) >= 0) return false;
    if (at < chunk.length) return compare(chunk.slots[at] ?? 0, high, low) > 0;
    const next = chunks[index + 1];
    return next === undefined || compare(next.slots[0] ?? 0, high, low) > 0;
  }

  function insert(slot: number): void {
    version++;
    const high = ids.idHigh[slot] ?? 0;
    const low = ids.idLow[slot] ?? 0;
    // The entry that served the last insert first (a batch of one client comes in a row), then the others.
    for (let k = 0; k < HINTS; k++) {
      const h = (lastHint + k) % HINTS;
      const index = hintChunk[h] ?? 0;
      const at = hintAt[h] ?? 0;
      if (fitsAt(index, at, high, low)) {
        lastHint = h;
        place(index, chunks[index] as Chunk, at, slot, h);
        return;
      }
    }
    const hint = hintNext;
    hintNext = (hintNext + 1) % HINTS;
    lastHint = hint;
    const lastIndex = chunks.length - 1;
    const last = chunks[lastIndex];
    if (last === undefined) {
      chunks.push(newChunk());
      place(0, chunks[0] as Chunk, 0, slot, hint);
      return;
    }
    // Appends (the common case) fill chunks completely.
    if (compare(last.slots[last.length - 1] ?? 0, high, low) < 0) {
      if (last.length === CHUNK) {
        chunks.push(newChunk());
        place(lastIndex + 1, chunks[lastIndex + 1] as Chunk, 0, slot, hint);
      } else {
        place(lastIndex, last, last.length, slot, hint);
      }
      return;
    }
    let index = chunkFor(high, low);
    let chunk = chunks[index] as Chunk;
    if (chunk.length === CHUNK) {
      // Split in half; the new id goes into the half it belongs to.
      const right = newChunk();
      const half = CHUNK >>> 1;
      right.slots.set(chunk.slots.subarray(half, CHUNK));
      right.length = CHUNK - half;
      chunk.length = half;
      chunks.splice(index + 1, 0, right);
      if (compare(right.slots[0] ?? 0, high, low) <= 0) {
        chunk = right;
        index++;
      }
    }
    place(index, chunk, bound(chunk, high, low, false), slot, hint);
  }

  function remove(slot: number): void {
    version++;
    const high = ids.idHigh[slot] ?? 0;
    const low = ids.idLow[slot] ?? 0;
    const index = chunkFor(high, low);
    const chunk = chunks[index];
    const at = chunk === undefined ? -1 : bound(chunk, high, low, true);
    if (chunk === undefined || at >= chunk.length || chunk.slots[at] !== slot) {
      throw new Error(`id order: slot ${slot} is not in the order`);
    }
    chunk.slots.copyWithin(at, at + 1, chunk.length);
    chunk.length--;
    if (chunk.length === 0) {
      chunks.splice(index, 1);
      return;
    }
    if (chunk.length >= MERGE_BELOW) return;
    const before = chunks[index - 1];
    if (before !== undefined && before.length + chunk.length <= CHUNK) {
      before.slots.set(chunk.slots.subarray(0, chunk.length), before.length);
      before.length += chunk.length;
      chunks.splice(index, 1);
      return;
    }
    const after = chunks[index + 1];
    if (after !== undefined && after.length + chunk.length <= CHUNK) {
      chunk.slots.set(after.slots.subarray(0, after.length), chunk.length);
      chunk.length += after.length;
      chunks.splice(index + 1, 1);
    }
  }

  /** Position (chunk, index) of the first slot whose id is > (high, low). */
  function seek(high: number, low: number): [number, number] {
    if (chunks.length === 0) return [0, 0];
    if (high < 0) return [0, 0];
    const c = chunkFor(high, low);
    return [c, bound(chunks[c] as Chunk, high, low, false)];
  }

  return {
    insert,
    remove,
    *iterate(afterHigh, afterLow) {
      let seen = version;
      let [c, i] = seek(afterHigh, afterLow);
      for (;;) {
        if (seen !== version) {
          seen = version;
          [c, i] = seek(afterHigh, afterLow);
        }
        const chunk = chunks[c];
        if (chunk === undefined) return;
        if (i >= chunk.length) {
          c++;
          i = 0;
          continue;
        }
        const slot = chunk.slots[i++] ?? 0;
        afterHigh = ids.idHigh[slot] ?? 0;
        afterLow = ids.idLow[slot] ?? 0;
        yield slot;
      }
    },
  };
}

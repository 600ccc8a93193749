/** Most slots a chunk holds: inserts and deletes move at most this many entries. */
const CHUNK = 512;
/** A chunk that falls below this many entries is merged into a neighbour that has room. */
const MERGE_BELOW = CHUNK / 4;

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
 * appended in O(1), and so is an id that goes right after the one inserted
 * just before (clients counting up in interleaved ranges); any other insert
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
  // Where the last insert put its slot (chunk index, position), valid while `version` is `hintVersion`.
  let hintChunk = 0;
  let hintAt = 0;
  let hintVersion = -1;

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

  /** Puts `slot` at `at` in chunk `index` (which has room) and remembers where. */
  function place(index: number, chunk: Chunk, at: number, slot: number): void {
    if (at < chunk.length) chunk.slots.copyWithin(at + 1, at, chunk.length);
    chunk.slots[at] = slot;
    chunk.length++;
    hintChunk = index;
    hintAt = at + 1;
    hintVersion = version;
  }

  /** True when (high, low) goes right after the last inserted slot: above it, below what follows it. */
  function followsHint(high: number, low: number): boolean {
    if (hintVersion !== version) return false;
    const chunk = chunks[hintChunk] as Chunk;
    if (chunk.length === CHUNK || compare(chunk.slots[hintAt - 1] ?? 0, high, low) >= 0) return false;
    if (hintAt < chunk.length) return compare(chunk.slots[hintAt] ?? 0, high, low) > 0;
    const next = chunks[hintChunk + 1];
    return next === undefined || compare(next.slots[0] ?? 0, high, low) > 0;
  }

  function insert(slot: number): void {
    const high = ids.idHigh[slot] ?? 0;
    const low = ids.idLow[slot] ?? 0;
    if (followsHint(high, low)) {
      version++;
      place(hintChunk, chunks[hintChunk] as Chunk, hintAt, slot);
      return;
    }
    version++;
    const lastIndex = chunks.length - 1;
    const last = chunks[lastIndex];
    if (last === undefined) {
      chunks.push(newChunk());
      place(0, chunks[0] as Chunk, 0, slot);
      return;
    }
    // Appends (the common case) fill chunks completely.
    if (compare(last.slots[last.length - 1] ?? 0, high, low) < 0) {
      if (last.length === CHUNK) {
        chunks.push(newChunk());
        place(lastIndex + 1, chunks[lastIndex + 1] as Chunk, 0, slot);
      } else {
        place(lastIndex, last, last.length, slot);
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
    place(index, chunk, bound(chunk, high, low, false), slot);
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

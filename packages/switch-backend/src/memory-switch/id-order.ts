/**
 * The ids in the table in ascending order, as offsets from the first id, for
 * lazy iteration and `afterId` seeks. Ids are assigned in increasing order, so
 * appending keeps the log sorted; removed ids stay as stale entries (the
 * caller says which offsets are still present) until a compaction drops them.
 * Iterators survive compactions by seeking to the last offset they produced.
 */
export interface IdOrder {
  /** Appends an offset larger than every one before. */
  append(offset: number): void;
  /** Offsets greater than `after`, ascending, that `isPresent` still accepts when reached. */
  iterate(after: number): Generator<number, void, undefined>;
}

/** Makes an empty log; `isPresent(offset)` tells whether an id is still in the table. */
export function createIdOrder(isPresent: (offset: number) => boolean, liveCount: () => number): IdOrder {
  let log = new Float64Array(1024);
  let length = 0;
  let generation = 0;

  /** Index of the first entry greater than `offset`. */
  function upperBound(offset: number): number {
    let lo = 0;
    let hi = length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((log[mid] ?? 0) <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  function compact(): void {
    let kept = 0;
    for (let i = 0; i < length; i++) {
      const offset = log[i] ?? 0;
      if (isPresent(offset)) log[kept++] = offset;
    }
    length = kept;
    generation++;
  }

  return {
    append(offset) {
      if (length === log.length) {
        if (liveCount() <= length / 2) compact();
        if (length === log.length) {
          const bigger = new Float64Array(log.length * 2);
          bigger.set(log);
          log = bigger;
        }
      }
      log[length++] = offset;
    },
    *iterate(after) {
      let seen = generation;
      let index = upperBound(after);
      let last = after;
      for (;;) {
        if (seen !== generation) {
          seen = generation;
          index = upperBound(last);
        }
        if (index >= length) return;
        const offset = log[index++] ?? 0;
        if (!isPresent(offset)) continue;
        last = offset;
        yield offset;
      }
    },
  };
}

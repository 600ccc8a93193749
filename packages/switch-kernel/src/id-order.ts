/**
 * Ids of the table in ascending order, for lazy listing: an append-only array
 * that is compacted and sorted again only when a listing starts after ids
 * arrived out of order or left. Ids a switch assigns arrive in increasing
 * order, so the common case never sorts.
 */
export interface IdOrder {
  /** Records a new id. */
  add(id: bigint): void;
  /** Records that an id left (removed lazily). */
  removed(): void;
  /** Ids after `afterId` (exclusive) in ascending order, as of now; `has` filters ids that left. */
  after(afterId: bigint | undefined, has: (id: bigint) => boolean): bigint[];
}

function lowerBound(ids: readonly bigint[], after: bigint): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ids[mid] as bigint) <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Makes an empty id order. */
export function createIdOrder(): IdOrder {
  let ids: bigint[] = [];
  let sorted = true;
  let gone = 0;
  return {
    add(id) {
      const last = ids[ids.length - 1];
      if (last !== undefined && id <= last) sorted = false;
      ids.push(id);
    },
    removed() {
      gone += 1;
    },
    after(afterId, has) {
      if (!sorted || gone > 0) {
        ids = ids.filter(has);
        if (!sorted) {
          // An id that left and came back is in the array twice.
          ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
          ids = ids.filter((id, i) => i === 0 || ids[i - 1] !== id);
        }
        sorted = true;
        gone = 0;
      }
      const start = afterId === undefined ? 0 : lowerBound(ids, afterId);
      return ids.slice(start);
    },
  };
}

import { NO_SLOT, type SlotStore } from "./slot-store";

/**
 * A doubly linked list threaded through the store's `prev`/`next` arrays, so
 * that membership costs no memory beyond the two links every slot has. A slot
 * is in at most one list at a time.
 */
export interface SlotList {
  /** First slot, or NO_SLOT. */
  readonly head: number;
  /** Number of slots in the list. */
  readonly length: number;
  /** Appends `slot` at the tail. */
  push(slot: number): void;
  /** Inserts `slot` at the head. */
  unshift(slot: number): void;
  /** Unlinks `slot`, which must be in this list. */
  remove(slot: number): void;
  /** The slot after `slot`, or NO_SLOT. */
  after(slot: number): number;
}

/** Makes an empty list over `store`. */
export function createSlotList(store: SlotStore): SlotList {
  let head = NO_SLOT;
  let tail = NO_SLOT;
  let length = 0;
  return {
    get head() {
      return head;
    },
    get length() {
      return length;
    },
    push(slot) {
      store.prev[slot] = tail;
      store.next[slot] = NO_SLOT;
      if (tail === NO_SLOT) head = slot;
      else store.next[tail] = slot;
      tail = slot;
      length++;
    },
    unshift(slot) {
      store.prev[slot] = NO_SLOT;
      store.next[slot] = head;
      if (head === NO_SLOT) tail = slot;
      else store.prev[head] = slot;
      head = slot;
      length++;
    },
    remove(slot) {
      const p = store.prev[slot] ?? NO_SLOT;
      const n = store.next[slot] ?? NO_SLOT;
      if (p === NO_SLOT) head = n;
      else store.next[p] = n;
      if (n === NO_SLOT) tail = p;
      else store.prev[n] = p;
      store.prev[slot] = NO_SLOT;
      store.next[slot] = NO_SLOT;
      length--;
    },
    after: (slot) => store.next[slot] ?? NO_SLOT,
  };
}

/**
 * A binary min-heap of (deadline, slot, serial) for the sessions that carry
 * their own idle timeout. Deadlines are lazy: traffic does not touch the heap;
 * the sweep pops an entry when its deadline has passed and either ends the
 * session or pushes it again with the deadline its last traffic gives it. An
 * entry whose serial no longer matches its slot's belongs to a session that
 * has left, and is dropped when popped.
 */
export interface DeadlineHeap {
  readonly size: number;
  /** Adds an entry; `deadline` in nanoseconds since the epoch (rounding to a double is harmless). */
  push(deadline: number, slot: number, serial: number): void;
  /** The smallest deadline, or Infinity when empty. */
  peekDeadline(): number;
  /** Removes the entry with the smallest deadline; its slot and serial are then `poppedSlot` and `poppedSerial`. */
  pop(): void;
  readonly poppedSlot: number;
  readonly poppedSerial: number;
  /** Drops the entries `keep` refuses (sessions that have left), in O(size). */
  compact(keep: (slot: number, serial: number) => boolean): void;
}

/** Makes an empty heap. */
export function createDeadlineHeap(): DeadlineHeap {
  let deadlines = new Float64Array(64);
  let slots = new Int32Array(64);
  let serials = new Float64Array(64);
  let size = 0;
  let poppedSlot = -1;
  let poppedSerial = -1;

  function swap(a: number, b: number): void {
    const d = deadlines[a] ?? 0;
    deadlines[a] = deadlines[b] ?? 0;
    deadlines[b] = d;
    const s = slots[a] ?? 0;
    slots[a] = slots[b] ?? 0;
    slots[b] = s;
    const r = serials[a] ?? 0;
    serials[a] = serials[b] ?? 0;
    serials[b] = r;
  }

  function siftDown(start: number): void {
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < size && (deadlines[left] ?? 0) < (deadlines[least] ?? 0)) least = left;
      if (right < size && (deadlines[right] ?? 0) < (deadlines[least] ?? 0)) least = right;
      if (least === i) return;
      swap(i, least);
      i = least;
    }
  }

  function grow(): void {
    const n = deadlines.length * 2;
    const d = new Float64Array(n);
    d.set(deadlines);
    deadlines = d;
    const s = new Int32Array(n);
    s.set(slots);
    slots = s;
    const r = new Float64Array(n);
    r.set(serials);
    serials = r;
  }

  return {
    get size() {
      return size;
    },
    get poppedSlot() {
      return poppedSlot;
    },
    get poppedSerial() {
      return poppedSerial;
    },
    push(deadline, slot, serial) {
      if (size === deadlines.length) grow();
      let i = size++;
      deadlines[i] = deadline;
      slots[i] = slot;
      serials[i] = serial;
      while (i > 0) {
        const parent = (i - 1) >>> 1;
        if ((deadlines[parent] ?? 0) <= (deadlines[i] ?? 0)) break;
        swap(i, parent);
        i = parent;
      }
    },
    peekDeadline: () => (size === 0 ? Infinity : (deadlines[0] ?? Infinity)),
    pop() {
      if (size === 0) throw new Error("deadline heap: empty");
      poppedSlot = slots[0] ?? -1;
      poppedSerial = serials[0] ?? -1;
      size--;
      if (size === 0) return;
      deadlines[0] = deadlines[size] ?? 0;
      slots[0] = slots[size] ?? 0;
      serials[0] = serials[size] ?? 0;
      siftDown(0);
    },
    compact(keep) {
      let kept = 0;
      for (let i = 0; i < size; i++) {
        if (!keep(slots[i] ?? 0, serials[i] ?? 0)) continue;
        deadlines[kept] = deadlines[i] ?? 0;
        slots[kept] = slots[i] ?? 0;
        serials[kept] = serials[i] ?? 0;
        kept++;
      }
      size = kept;
      for (let i = (size >>> 1) - 1; i >= 0; i--) siftDown(i);
    },
  };
}

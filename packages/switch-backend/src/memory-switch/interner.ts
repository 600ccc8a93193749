/**
 * Reference-counted string interning: sessions store a small integer per
 * inLif/outLif/nextHop instead of a string, and a string that no session uses
 * any more is forgotten, so unique values cannot pile up.
 */
export interface Interner {
  /** The index of `value`, adding it if new; counts one more reference. */
  intern(value: string): number;
  /** Counts one more reference to `index` (held: from `intern` or a `lookup` that found it); answers `index`. */
  retain(index: number): number;
  /** The index of `value`, or -1 if no session uses it; counts nothing. */
  lookup(value: string): number;
  /** The string at `index`. */
  value(index: number): string;
  /** Drops one reference to `index`; the string is forgotten at zero. */
  release(index: number): void;
  /** Number of distinct strings held. */
  readonly size: number;
}

/** Makes an empty interner. */
export function createInterner(): Interner {
  const indexOf = new Map<string, number>();
  const values: string[] = [];
  const refs: number[] = [];
  const free: number[] = [];
  return {
    intern(value) {
      const known = indexOf.get(value);
      if (known !== undefined) {
        refs[known] = (refs[known] ?? 0) + 1;
        return known;
      }
      const index = free.pop() ?? values.length;
      values[index] = value;
      refs[index] = 1;
      indexOf.set(value, index);
      return index;
    },
    retain(index) {
      refs[index] = (refs[index] ?? 0) + 1;
      return index;
    },
    lookup: (value) => indexOf.get(value) ?? -1,
    value: (index) => values[index] ?? "",
    release(index) {
      const left = (refs[index] ?? 0) - 1;
      refs[index] = left;
      if (left > 0) return;
      const value = values[index];
      if (value !== undefined) indexOf.delete(value);
      values[index] = "";
      free.push(index);
    },
    get size() {
      return indexOf.size;
    },
  };
}

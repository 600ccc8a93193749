/** Bytes per slab that small arrays are cut from. */
const SLAB_BYTES = 8192;

let slab = new ArrayBuffer(SLAB_BYTES);
let used = 0;

/**
 * A zeroed Uint8Array of `length` (at most 8192) bytes cut from a shared
 * 8 KiB slab, as Node cuts small Buffers from its pool: V8 gives a typed
 * array with an ArrayBuffer of its own an extension that the GC tracks and
 * sweeps, several times the cost of the array, once per session on the add
 * path. The array's `.buffer` is the slab: it is shared, and a kept array
 * keeps its slab alive.
 */
export function smallBytes(length: number): Uint8Array {
  if (used + length > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const bytes = new Uint8Array(slab, used, length);
  used += length;
  return bytes;
}

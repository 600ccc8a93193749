/**
 * IPv4 addresses in openoffload.v1's uint32 fields hold the value of C's
 * `struct in_addr.s_addr` as the reference client (on little-endian x86 and
 * ARM hosts) sends it: the four address bytes in network order read as a
 * little-endian integer. So 10.0.0.1 is 0x0100000A and 192.0.2.1 is 0x010200C0.
 */

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
function smallBytes(length: number): Uint8Array {
  if (used + length > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const bytes = new Uint8Array(slab, used, length);
  used += length;
  return bytes;
}

/**
 * The 4 address bytes (network order) of an openoffload.v1 IPv4 field value:
 * a view of a shared 8 KiB slab (as Node's small Buffers are of its pool), so
 * that the add path allocates no ArrayBuffer per address.
 */
export function ipv4FromInAddr(value: number): Uint8Array {
  const bytes = smallBytes(4);
  bytes[0] = value;
  bytes[1] = value >>> 8;
  bytes[2] = value >>> 16;
  bytes[3] = value >>> 24;
  return bytes;
}

/** The openoffload.v1 IPv4 field value of 4 address bytes (network order). Throws a RangeError for another length. */
export function ipv4ToInAddr(bytes: Uint8Array): number {
  if (bytes.length !== 4) throw new RangeError(`an IPv4 address has 4 bytes, not ${bytes.length}`);
  return ((bytes[0] ?? 0) | ((bytes[1] ?? 0) << 8) | ((bytes[2] ?? 0) << 16) | ((bytes[3] ?? 0) << 24)) >>> 0;
}

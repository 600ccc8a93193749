import { smallBytes } from "./small-bytes";

/**
 * IPv4 addresses in openoffload.v1's uint32 fields hold the value of C's
 * `struct in_addr.s_addr` as the reference client (on little-endian x86 and
 * ARM hosts) sends it: the four address bytes in network order read as a
 * little-endian integer. So 10.0.0.1 is 0x0100000A and 192.0.2.1 is 0x010200C0.
 */

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

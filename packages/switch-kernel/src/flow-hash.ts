import { endianness } from "node:os";

const rol32 = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

/**
 * The Linux kernel's `jhash(key, length, initval)` (include/linux/jhash.h,
 * Bob Jenkins' lookup3), which nft's `jhash` expression computes over the
 * packet fields: the same bytes and seed give the same value here.
 */
export function jhash(key: Uint8Array, initval: number): number {
  let length = key.length;
  let a = (0xdeadbeef + length + initval) >>> 0;
  let b = a;
  let c = a;
  let k = 0;
  // The kernel reads whole words in CPU order; little-endian is checked by `createFlowHasher`.
  const word = (i: number): number =>
    ((key[i] as number) |
      ((key[i + 1] as number) << 8) |
      ((key[i + 2] as number) << 16) |
      ((key[i + 3] as number) << 24)) >>>
    0;
  while (length > 12) {
    a = (a + word(k)) >>> 0;
    b = (b + word(k + 4)) >>> 0;
    c = (c + word(k + 8)) >>> 0;
    a = (a - c) >>> 0;
    a = (a ^ rol32(c, 4)) >>> 0;
    c = (c + b) >>> 0;
    b = (b - a) >>> 0;
    b = (b ^ rol32(a, 6)) >>> 0;
    a = (a + c) >>> 0;
    c = (c - b) >>> 0;
    c = (c ^ rol32(b, 8)) >>> 0;
    b = (b + a) >>> 0;
    a = (a - c) >>> 0;
    a = (a ^ rol32(c, 16)) >>> 0;
    c = (c + b) >>> 0;
    b = (b - a) >>> 0;
    b = (b ^ rol32(a, 19)) >>> 0;
    a = (a + c) >>> 0;
    c = (c - b) >>> 0;
    c = (c ^ rol32(b, 4)) >>> 0;
    b = (b + a) >>> 0;
    length -= 12;
    k += 12;
  }
  if (length === 0) return c;
  const byte = (i: number): number => (i < length ? (key[k + i] as number) : 0);
  c = (c + (byte(8) | (byte(9) << 8) | (byte(10) << 16) | (byte(11) << 24))) >>> 0;
  b = (b + (byte(4) | (byte(5) << 8) | (byte(6) << 16) | (byte(7) << 24))) >>> 0;
  a = (a + (byte(0) | (byte(1) << 8) | (byte(2) << 16) | (byte(3) << 24))) >>> 0;
  c = (c ^ b) >>> 0;
  c = (c - rol32(b, 14)) >>> 0;
  a = (a ^ c) >>> 0;
  a = (a - rol32(c, 11)) >>> 0;
  b = (b ^ a) >>> 0;
  b = (b - rol32(a, 25)) >>> 0;
  c = (c ^ b) >>> 0;
  c = (c - rol32(b, 16)) >>> 0;
  a = (a ^ c) >>> 0;
  a = (a - rol32(c, 4)) >>> 0;
  b = (b ^ a) >>> 0;
  b = (b - rol32(a, 14)) >>> 0;
  c = (c ^ b) >>> 0;
  c = (c - rol32(b, 24)) >>> 0;
  return c;
}

/**
 * The bytes nft hashes for `jhash saddr . daddr . th sport . th dport`: each
 * field in network order in a 32-bit register, a port's register zero-padded.
 */
export function flowKeyBytes(saddr: Uint8Array, daddr: Uint8Array, sport: number, dport: number): Uint8Array {
  const out = new Uint8Array(saddr.length + daddr.length + 8);
  out.set(saddr, 0);
  out.set(daddr, saddr.length);
  const p = saddr.length + daddr.length;
  out[p] = sport >> 8;
  out[p + 1] = sport & 0xff;
  out[p + 4] = dport >> 8;
  out[p + 5] = dport & 0xff;
  return out;
}

/** Which of `modulus` shards the kernel's `jhash ... mod modulus seed seed` puts a flow in. */
export type FlowHasher = (saddr: Uint8Array, daddr: Uint8Array, sport: number, dport: number) => number;

/**
 * Makes the shard function matching nft's `jhash KEY mod MODULUS seed SEED`
 * (`reciprocal_scale` of the hash). Throws on a big-endian host, where the
 * kernel reads the key's words the other way round.
 */
export function createFlowHasher(modulus: number, seed: number): FlowHasher {
  if (endianness() !== "LE") throw new Error("the nftables switch's flow sharding assumes a little-endian kernel");
  const m = BigInt(modulus);
  return (saddr, daddr, sport, dport) => {
    if (modulus === 1) return 0;
    const h = jhash(flowKeyBytes(saddr, daddr, sport, dport), seed);
    return Number((BigInt(h) * m) >> 32n);
  };
}

/**
 * SQLite integers are signed 64-bit; session ids and counters are unsigned
 * 64-bit. Ids are stored shifted by 2^63 so that the stored order is the id
 * order (`WHERE id > ? ORDER BY id` pages correctly past 2^63); counters are
 * stored as their two's-complement bit pattern, since only their value matters.
 */

const OFFSET = 1n << 63n;

/** Stored (signed) form of an unsigned 64-bit id, order-preserving. */
export function idToStored(id: bigint): bigint {
  return id - OFFSET;
}

/** Unsigned 64-bit id of a stored (signed) id. */
export function idFromStored(stored: bigint): bigint {
  return stored + OFFSET;
}

/** Stored (signed, two's-complement) form of an unsigned 64-bit counter. */
export function counterToStored(value: bigint): bigint {
  return BigInt.asIntN(64, value);
}

/** Unsigned 64-bit counter of a stored (signed) value. */
export function counterFromStored(stored: bigint): bigint {
  return BigInt.asUintN(64, stored);
}

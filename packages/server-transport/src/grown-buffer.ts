/**
 * A buffer of at least `need` bytes holding the first `filled` bytes of
 * `buffer`: `buffer` itself when it is large enough, else a new one of twice
 * its length (at least `need` and `min`, at most `max`) with those bytes
 * copied. Bytes gathered a piece at a time so are copied about once each, and
 * what is held stays within twice what came.
 */
export function grownBuffer(
  buffer: Buffer | undefined,
  filled: number,
  need: number,
  min: number,
  max = Infinity,
): Buffer {
  if (buffer !== undefined && buffer.length >= need) return buffer;
  const grown = Buffer.allocUnsafe(Math.min(max, Math.max(need, 2 * (buffer?.length ?? 0), min)));
  buffer?.copy(grown, 0, 0, filled);
  return grown;
}

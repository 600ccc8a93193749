/**
 * True when `value` is a promise-like (has a callable `then`). The servers use
 * it to answer a synchronous backend without paying an `await`.
 */
export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/**
 * True when `value` is a promise-like (has a callable `then`). Servers use it to
 * answer a switch that answers synchronously (a `MaybePromise`) without paying
 * an `await`.
 */
export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

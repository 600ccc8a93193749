import { setTimeout as delay } from "node:timers/promises";

/**
 * Waits `ms` milliseconds; resolves `false` early when `signal` fires
 * (never rejects), `true` when the full time passed.
 */
export async function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return false;
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

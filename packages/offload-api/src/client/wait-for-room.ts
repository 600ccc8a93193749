import { ValidationError } from "../validation";
import { abortableSleep } from "./abortable-sleep";
import { abortError, type CallOptions } from "./call-options";
import type { AddSessionResult } from "./results";

/** Options of `addSessionWaitingForRoom`. */
export interface WaitForRoomOptions {
  /** How long to keep trying while the table is full, in milliseconds. */
  readonly maxWaitMs: number;
  /** Pause between tries, in milliseconds; default 100. */
  readonly pollMs?: number;
  /** Cancels the wait and any call in flight (OffloadError CANCELLED). */
  readonly signal?: AbortSignal;
  /** Time budget of each addSession try; default: the client's unary default. */
  readonly timeoutMs?: number;
}

/**
 * Calls `add` until it answers something other than `tableFull`, pausing
 * `pollMs` between tries, for at most `maxWaitMs` (measured with `now`).
 * `validate` runs first so that malformed input fails at once. Resolves the
 * last result (`tableFull` when time ran out); throws `ValidationError` for
 * bad options and `OffloadError` from `add` or CANCELLED on abort.
 */
export async function waitForRoom(
  validate: () => unknown,
  add: (call: CallOptions) => Promise<AddSessionResult>,
  options: WaitForRoomOptions,
  now: () => number,
): Promise<AddSessionResult> {
  const pollMs = options.pollMs ?? 100;
  if (!Number.isFinite(options.maxWaitMs) || options.maxWaitMs < 0) {
    throw new ValidationError("maxWaitMs", `must be a finite number >= 0, got ${options.maxWaitMs}`);
  }
  if (!Number.isFinite(pollMs) || pollMs <= 0) {
    throw new ValidationError("pollMs", `must be a finite number > 0, got ${pollMs}`);
  }
  validate();
  const giveUpAt = now() + options.maxWaitMs;
  const call: CallOptions = { signal: options.signal, timeoutMs: options.timeoutMs };
  for (;;) {
    const result = await add(call);
    if (result.kind !== "tableFull") return result;
    const left = giveUpAt - now();
    if (left <= 0) return result;
    if (!(await abortableSleep(Math.min(pollMs, left), options.signal))) {
      throw abortError(options.signal as AbortSignal, "addSession");
    }
  }
}

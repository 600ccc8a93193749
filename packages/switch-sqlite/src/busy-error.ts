import { SwitchUnavailableError } from "@sessionoffload/switch-backend";

// SQLite answers these while another connection holds a lock longer than the busy timeout.
function isBusyOrLocked(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"));
}

/** A busy or locked database as a `SwitchUnavailableError` (the servers answer UNAVAILABLE); other errors as they are. */
export function busyAsUnavailable(err: unknown): unknown {
  return isBusyOrLocked(err) ? new SwitchUnavailableError("sqlite switch database is busy", { cause: err }) : err;
}

/** Runs `fn`, rethrowing a busy or locked database as a `SwitchUnavailableError`. */
export function unlessBusy<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw busyAsUnavailable(err);
  }
}

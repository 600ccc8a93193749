import { MAX_IDLE_TIMEOUT_MS, UINT64_MAX, ValidationError, type SessionSpec } from "@sessionoffload/offload-api";
import type { AddOptions } from "./backend";

/**
 * Checks what `SwitchBackend.add` takes beyond a validated 7-tuple: a
 * requested id in 1..2^64-1 (ValidationError naming `sessionId`) and an idle
 * timeout that is a whole number of ms in 0..MAX_IDLE_TIMEOUT_MS
 * (ValidationError naming `idleTimeoutMs`).
 */
export function checkAddArguments(spec: SessionSpec, options: AddOptions | undefined): void {
  const id = options?.id;
  if (id !== undefined && (typeof id !== "bigint" || id < 1n || id > UINT64_MAX)) {
    throw new ValidationError("sessionId", `must be in 1..2^64-1, got ${String(id)}`);
  }
  const idle = spec.idleTimeoutMs;
  if (idle !== undefined && (!Number.isInteger(idle) || idle < 0 || idle > MAX_IDLE_TIMEOUT_MS)) {
    throw new ValidationError("idleTimeoutMs", `must be an integer in 0..${MAX_IDLE_TIMEOUT_MS}, got ${String(idle)}`);
  }
}

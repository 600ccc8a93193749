/**
 * A switch cannot serve now, but a retry may succeed (the switch is busy,
 * restarting or unreachable). Servers answer it with gRPC UNAVAILABLE; any
 * other error a switch throws is answered INTERNAL. The message and cause are
 * for the server's log only: they are never sent to the client.
 */
export class SwitchUnavailableError extends Error {
  override readonly name = "SwitchUnavailableError";
  /** Always true: what servers look at to answer UNAVAILABLE. */
  readonly retryable = true;
}

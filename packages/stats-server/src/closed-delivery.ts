import type { ServerWritableStream } from "@grpc/grpc-js";
import { isThenable } from "@sessionoffload/server-transport";
import type { Session } from "@sessionoffload/offload-api";
import type { ClosedLease, SwitchBackend } from "@sessionoffload/switch-backend";
import type { StreamGate } from "./stream-gate";

/** Options of `deliverClosedSessions`. */
export interface ClosedDeliveryOptions<M> {
  /** The switch whose closed sessions are delivered. */
  readonly backend: SwitchBackend;
  /** Most sessions to deliver (Infinity for all there are). */
  readonly max: number;
  /** How many closed sessions are leased at a time, 1..65536. */
  readonly batchSize: number;
  /** The wire message of a session (either API generation's `sessionResponse`). */
  readonly toWire: (session: Session) => M;
  /** After each message is handed to the stream with `call.write`. */
  readonly onWrite?: (session: Session) => void;
  /** After a lease is settled: `deliveredIds` left the table, the rest of `offered` stay. */
  readonly onSettle?: (deliveredIds: readonly bigint[], offered: number) => void;
}

// Writes one lease's sessions; settles exactly those the transport took. Returns how many.
async function deliverLease<M>(
  call: ServerWritableStream<unknown, M>,
  gate: StreamGate,
  lease: ClosedLease,
  options: ClosedDeliveryOptions<M>,
): Promise<number> {
  const sessions = lease.sessions;
  const base = gate.flushed;
  let written = 0;
  let delivered = 0;
  try {
    for (const session of sessions) {
      if (gate.stopped !== undefined) break;
      const writable = call.write(options.toWire(session), gate.onFlushed);
      written += 1;
      options.onWrite?.(session);
      if (!writable) await gate.waitDrain();
    }
    await gate.waitFlushed(base + written);
  } finally {
    delivered = Math.min(gate.flushed - base, written);
    const ids = new Array<bigint>(delivered);
    for (let i = 0; i < delivered; i += 1) ids[i] = (sessions[i] as Session).id;
    const settling = lease.settle(ids);
    if (isThenable(settling)) await settling;
    options.onSettle?.(ids, sessions.length);
  }
  return delivered;
}

/**
 * Streams up to `max` closed sessions on `call`, each exactly once: sessions
 * are leased in batches, and each lease is settled with exactly the sessions
 * the transport took (their write callback fired: handed to HTTP/2), also
 * when the client cancels or goes away; the rest stay in the table for a
 * later call. Waits for 'drain' when the stream's buffer is full. Stops early
 * when `gate` says the call stopped. Does not end the call; answers how many
 * sessions were delivered. Backend failures are thrown.
 */
export async function deliverClosedSessions<M>(
  call: ServerWritableStream<unknown, M>,
  gate: StreamGate,
  options: ClosedDeliveryOptions<M>,
): Promise<number> {
  let remaining = options.max;
  let count = 0;
  while (remaining > 0 && gate.stopped === undefined) {
    const want = Math.min(options.batchSize, remaining);
    const taking = options.backend.takeClosed(want);
    const lease = isThenable(taking) ? await taking : taking;
    const offered = lease.sessions.length;
    const delivered = await deliverLease(call, gate, lease, options);
    count += delivered;
    remaining -= delivered;
    if (offered < want) break;
  }
  return count;
}

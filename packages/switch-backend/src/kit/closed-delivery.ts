import type { Session } from "@sessionoffload/offload-api";
import type { ClosedLease, SwitchBackend } from "../backend";
import { isThenable } from "../maybe-promise";

/**
 * Where closed sessions are delivered: a server stream as its transport sees
 * it (server-transport's `createStreamGate` is one). A message counts as
 * delivered once the transport has taken it (`flushed`), not when it was
 * merely queued.
 */
export interface ClosedSessionSink<M> {
  /** Set once the stream stopped (the peer went away, or the server is stopping): deliver no more. */
  readonly stopped: string | undefined;
  /** Messages the transport has taken so far. */
  readonly flushed: number;
  /** Hands one message to the stream; false when its buffer is full (then wait for `waitDrain`). */
  write(message: M): boolean;
  /** Resolves when the stream's buffer has room again, or at once when stopped. */
  waitDrain(): Promise<void>;
  /** Resolves when `flushed >= count`, or when the transport will take no more. */
  waitFlushed(count: number): Promise<void>;
}

/** Closed sessions leased at a time by the servers' closed-session streams, unless configured. */
export const DEFAULT_CLOSED_BATCH_SIZE = 256;

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
  /** After each message is handed to the sink. */
  readonly onWrite?: (session: Session) => void;
  /** After a lease is settled: `deliveredIds` left the table, the rest of `offered` stay. */
  readonly onSettle?: (deliveredIds: readonly bigint[], offered: number) => void;
}

// Writes one lease's sessions; settles exactly those the transport took. Returns how many.
async function deliverLease<M>(
  sink: ClosedSessionSink<M>,
  lease: ClosedLease,
  options: ClosedDeliveryOptions<M>,
): Promise<number> {
  const sessions = lease.sessions;
  const base = sink.flushed;
  let written = 0;
  let delivered = 0;
  try {
    for (const session of sessions) {
      if (sink.stopped !== undefined) break;
      const writable = sink.write(options.toWire(session));
      written += 1;
      options.onWrite?.(session);
      if (!writable) await sink.waitDrain();
    }
    await sink.waitFlushed(base + written);
  } finally {
    delivered = Math.min(sink.flushed - base, written);
    const ids = new Array<bigint>(delivered);
    for (let i = 0; i < delivered; i += 1) ids[i] = (sessions[i] as Session).id;
    const settling = lease.settle(ids);
    if (isThenable(settling)) await settling;
    options.onSettle?.(ids, sessions.length);
  }
  return delivered;
}

/**
 * Delivers up to `max` closed sessions of `options.backend` to `sink`, each
 * exactly once: sessions are leased in batches, and each lease is settled
 * with exactly the sessions the transport took, also when the client cancels
 * or goes away; the rest stay in the table for a later call. Waits while the
 * sink is full; stops early when it stopped. Does not end the stream; answers
 * how many sessions were delivered. Switch failures are thrown.
 */
export async function deliverClosedSessions<M>(
  sink: ClosedSessionSink<M>,
  options: ClosedDeliveryOptions<M>,
): Promise<number> {
  let remaining = options.max;
  let count = 0;
  while (remaining > 0 && sink.stopped === undefined) {
    const want = Math.min(options.batchSize, remaining);
    const taking = options.backend.takeClosed(want);
    const lease = isThenable(taking) ? await taking : taking;
    const offered = lease.sessions.length;
    const delivered = await deliverLease(sink, lease, options);
    count += delivered;
    remaining -= delivered;
    if (offered < want) break;
  }
  return count;
}

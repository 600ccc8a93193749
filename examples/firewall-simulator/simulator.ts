import { setTimeout as delay } from "node:timers/promises";
import { OffloadError, type OffloadClient } from "@sessionoffload/offload-api";
import { randomSession, type Random } from "./random-session";
import { createSessionLedger, type LedgerTotals, type SessionLedger } from "./session-ledger";

/** Options of `createFirewallSimulator`. */
export interface FirewallSimulatorOptions {
  /** The offload client (both services). */
  readonly client: OffloadClient;
  /** Sessions offered per second; default 200. */
  readonly ratePerSecond?: number;
  /** Pause between two getClosedSessions sweeps; default 500 ms. */
  readonly collectIntervalMs?: number;
  /** Time budget of one getClosedSessions sweep; default 10 s. */
  readonly collectTimeoutMs?: number;
  /** First pause after a full table (doubles while it stays full, up to `maxBackoffMs`); default 100 ms. */
  readonly initialBackoffMs?: number;
  /** Longest pause while the table stays full; default 2000 ms. */
  readonly maxBackoffMs?: number;
  /** Random source of the sessions; default Math.random. */
  readonly random?: Random;
  /** Milliseconds since the epoch; default Date.now. */
  readonly now?: () => number;
  /** The firewall's own table; default a new one. */
  readonly ledger?: SessionLedger;
  /** Called with the status about every `statusIntervalMs`; default never. */
  readonly onStatus?: (status: SimulatorStatus) => void;
  /** Period of `onStatus`; default 1000 ms. */
  readonly statusIntervalMs?: number;
}

/** The live numbers of a run. */
export interface SimulatorStatus extends LedgerTotals {
  /** Sessions the switch accepted. */
  readonly offloaded: number;
  /** Adds answered tableFull (the simulator then backs off). */
  readonly rejected: number;
  /** Adds answered alreadyExists (a random 7-tuple that was already offloaded). */
  readonly duplicates: number;
  /** Calls that failed with an OffloadError (the simulator backs off and goes on). */
  readonly errors: number;
  /** Accepted offloads per second over the last status period. */
  readonly rate: number;
  /** Time since the run started. */
  readonly elapsedMs: number;
  /** The last error's message, if any. */
  readonly lastError: string | undefined;
}

/** A firewall that keeps offloading random sessions and reconciles the closed ones. */
export interface FirewallSimulator {
  /** Runs until `signal` fires, then makes a last collection sweep and resolves the final status. */
  run(signal: AbortSignal): Promise<SimulatorStatus>;
  /** The status now. */
  status(): SimulatorStatus;
}

/** Creates a simulator; nothing happens until `run`. */
export function createFirewallSimulator(options: FirewallSimulatorOptions): FirewallSimulator {
  const { client } = options;
  const rate = options.ratePerSecond ?? 200;
  if (!Number.isFinite(rate) || rate <= 0) throw new RangeError(`ratePerSecond: must be > 0, got ${rate}`);
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const ledger = options.ledger ?? createSessionLedger();
  const collectIntervalMs = options.collectIntervalMs ?? 500;
  const initialBackoffMs = options.initialBackoffMs ?? 100;
  const maxBackoffMs = options.maxBackoffMs ?? 2000;
  const statusIntervalMs = options.statusIntervalMs ?? 1000;
  const collectTimeoutMs = options.collectTimeoutMs ?? 10_000;
  let offloaded = 0;
  let rejected = 0;
  let duplicates = 0;
  let errors = 0;
  let lastError: string | undefined;
  let startedAt = now();
  let rateWindow = { at: startedAt, offloaded: 0, rate: 0 };

  function status(): SimulatorStatus {
    return {
      ...ledger.totals(),
      offloaded,
      rejected,
      duplicates,
      errors,
      rate: rateWindow.rate,
      elapsedMs: now() - startedAt,
      lastError,
    };
  }

  function failed(err: unknown): void {
    if (!(err instanceof OffloadError)) throw err;
    errors++;
    lastError = err.message;
  }

  async function offloadLoop(signal: AbortSignal): Promise<void> {
    const periodMs = 1000 / rate;
    let offered = 0;
    let backoffMs = 0;
    while (!signal.aborted) {
      if (backoffMs > 0) {
        await delay(backoffMs, undefined, { signal }).catch(() => undefined);
        // Offer at the configured rate from now on, not in a burst to catch up.
        offered = Math.floor((now() - startedAt) / periodMs);
      }
      const dueIn = (offered + 1) * periodMs - (now() - startedAt);
      if (dueIn > 0) await delay(dueIn, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) break;
      offered++;
      const input = randomSession(random);
      try {
        // Not cancelled by the stop signal: an add the switch may already have applied
        // must be answered and recorded, or its session would be left in the switch.
        const result = await client.addSession(input);
        if (result.kind === "accepted") {
          offloaded++;
          backoffMs = 0;
          const packets = BigInt(1 + Math.floor(random() * 3));
          ledger.offloaded({
            id: result.id,
            input,
            inspected: { inPackets: packets, outPackets: packets, inBytes: packets * 60n, outBytes: packets * 60n },
          });
        } else if (result.kind === "alreadyExists") {
          duplicates++;
          backoffMs = 0;
        } else {
          rejected++;
          backoffMs = backoffMs === 0 ? initialBackoffMs : Math.min(maxBackoffMs, backoffMs * 2);
        }
      } catch (err) {
        failed(err);
        backoffMs = backoffMs === 0 ? initialBackoffMs : Math.min(maxBackoffMs, backoffMs * 2);
      }
    }
  }

  // A sweep is never cut short by the stop signal: sessions the server has written would be lost.
  async function collectOnce(): Promise<void> {
    try {
      for await (const session of client.getClosedSessions({ timeoutMs: collectTimeoutMs })) ledger.closed(session);
    } catch (err) {
      failed(err);
    }
  }

  async function collectLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await delay(collectIntervalMs, undefined, { signal }).catch(() => undefined);
      if (!signal.aborted) await collectOnce();
    }
  }

  async function statusLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await delay(statusIntervalMs, undefined, { signal }).catch(() => undefined);
      const t = now();
      const seconds = (t - rateWindow.at) / 1000;
      rateWindow = { at: t, offloaded, rate: seconds > 0 ? (offloaded - rateWindow.offloaded) / seconds : 0 };
      if (!signal.aborted) options.onStatus?.(status());
    }
  }

  return {
    status,
    async run(signal) {
      startedAt = now();
      rateWindow = { at: startedAt, offloaded: 0, rate: 0 };
      // One loop failing (a bug, not a call error) stops the others too, then the run rejects.
      const stop = new AbortController();
      const onStop = (): void => stop.abort();
      signal.addEventListener("abort", onStop, { once: true });
      if (signal.aborted) stop.abort();
      const loops = [offloadLoop(stop.signal), collectLoop(stop.signal), statusLoop(stop.signal)].map((loop) =>
        loop.catch((err: unknown) => {
          stop.abort();
          throw err;
        }),
      );
      try {
        await Promise.all(loops);
      } finally {
        await Promise.allSettled(loops);
        signal.removeEventListener("abort", onStop);
      }
      // Sessions that ended while we were stopping: collect them, so the switch keeps none for us.
      await collectOnce();
      return status();
    },
  };
}

import type { Session, SessionInput } from "@sessionoffload/offload-api";

/** Packet and byte counts, per direction. */
export interface Counters {
  inPackets: bigint;
  outPackets: bigint;
  inBytes: bigint;
  outBytes: bigint;
}

/** A session in the firewall's own table. */
export interface LedgerEntry {
  readonly id: bigint;
  readonly input: SessionInput;
  /** What the firewall counted itself before it offloaded the session (its first packets). */
  readonly inspected: Counters;
}

/** A session the switch reported ended, merged with the firewall's own counts. */
export interface ReconciledSession {
  readonly id: bigint;
  readonly closeCode: Session["closeCode"];
  /** Firewall counts plus the switch's final counters. */
  readonly total: Counters;
}

/** Totals of the ledger, for the status line and the summary. */
export interface LedgerTotals {
  readonly active: number;
  readonly closed: number;
  /** Closed sessions the ledger did not know (offloaded by an earlier run, or by someone else). */
  readonly unknown: number;
  /** Sum of the merged counters of every reconciled session. */
  readonly traffic: Counters;
  /** Closed sessions per close code. */
  readonly byCloseCode: Readonly<Record<string, number>>;
}

/** The firewall's table of offloaded sessions. */
export interface SessionLedger {
  /** Records an offloaded session under the switch's id. */
  offloaded(entry: LedgerEntry): void;
  /** Reconciles a closed session reported by the switch; undefined when the id is not in the ledger. */
  closed(session: Session): ReconciledSession | undefined;
  /** The live entries. */
  entries(): IterableIterator<LedgerEntry>;
  /** Current totals. */
  totals(): LedgerTotals;
}

function zero(): Counters {
  return { inPackets: 0n, outPackets: 0n, inBytes: 0n, outBytes: 0n };
}

function add(into: Counters, from: Counters): void {
  into.inPackets += from.inPackets;
  into.outPackets += from.outPackets;
  into.inBytes += from.inBytes;
  into.outBytes += from.outBytes;
}

/** Creates an empty ledger. */
export function createSessionLedger(): SessionLedger {
  const live = new Map<bigint, LedgerEntry>();
  const traffic = zero();
  const byCloseCode: Record<string, number> = {};
  let closed = 0;
  let unknown = 0;
  return {
    offloaded(entry) {
      live.set(entry.id, entry);
    },
    closed(session) {
      const entry = live.get(session.id);
      if (entry === undefined) {
        unknown++;
        return undefined;
      }
      live.delete(session.id);
      closed++;
      byCloseCode[session.closeCode] = (byCloseCode[session.closeCode] ?? 0) + 1;
      const total = zero();
      add(total, entry.inspected);
      add(total, session);
      add(traffic, total);
      return { id: session.id, closeCode: session.closeCode, total };
    },
    entries: () => live.values(),
    totals: () => ({ active: live.size, closed, unknown, traffic: { ...traffic }, byCloseCode: { ...byCloseCode } }),
  };
}

import { ErrorCode } from "./h2/frames";
import type { TransportLimitName } from "./limits";

/**
 * What one server's HTTP/2 transport refused or counted so far, read live
 * (`OffloadServer.transportStats()`). Counts only grow, except the gauges
 * `connections.open` and `heldRequestBytes`.
 */
export interface TransportStats {
  /** Connections accepted, open now, and closed at accept because the connection cap was reached. */
  readonly connections: { readonly accepted: number; readonly open: number; readonly rejected: number };
  /** GOAWAY frames sent, by HTTP/2 error code name (NO_ERROR for graceful closes). */
  readonly goaway: Readonly<Record<string, number>>;
  /** RST_STREAM frames sent, by HTTP/2 error code name. */
  readonly rstStream: Readonly<Record<string, number>>;
  /** Streams refused (REFUSED_STREAM) above the concurrent-streams limit or while going away. */
  readonly refusedStreams: number;
  /** Times each limit refused something, by limit name (see `TransportLimitName`). */
  readonly limitHits: Readonly<Partial<Record<string, number>>>;
  /**
   * Request bytes held now (a gauge): received on the native transport's
   * connections and not yet consumed (handed to a handler, forwarded, or
   * dropped), against `TransportLimits.maxHeldRequestBytes`. 0 once no
   * request data is waiting anywhere.
   */
  readonly heldRequestBytes: number;
}

/** A server whose transport reports `TransportStats`. */
export interface TransportStatsSource {
  transportStats(): TransportStats;
}

// The name of an HTTP/2 error code, or its hex value when unknown.
function codeName(code: number): string {
  const name = (ErrorCode as unknown as Record<number, string | undefined>)[code];
  return name ?? `0x${code.toString(16)}`;
}

function bump(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

/** The transport's counters, written by its connections (internal). */
export class TransportCounters {
  accepted = 0;
  open = 0;
  rejected = 0;
  refusedStreams = 0;
  /** Request bytes held by all connections now (see `TransportStats.heldRequestBytes`). */
  heldRequestBytes = 0;
  private readonly goaway: Record<string, number> = {};
  private readonly rstStream: Record<string, number> = {};
  private readonly limitHits: Record<string, number> = {};

  goawaySent(code: number): void {
    bump(this.goaway, codeName(code));
  }

  resetSent(code: number): void {
    bump(this.rstStream, codeName(code));
  }

  limitHit(limit: TransportLimitName): void {
    bump(this.limitHits, limit);
  }

  /** A copy of the counts now. */
  snapshot(): TransportStats {
    return {
      connections: { accepted: this.accepted, open: this.open, rejected: this.rejected },
      goaway: { ...this.goaway },
      rstStream: { ...this.rstStream },
      refusedStreams: this.refusedStreams,
      limitHits: { ...this.limitHits },
      heldRequestBytes: this.heldRequestBytes,
    };
  }
}

// TEMPORARY: to be replaced by the import from @sessionoffload/server-transport
// when it lands (issue 15 provides these interfaces; the lead wires them when
// merging). Until then the reference server defines them here, exactly as
// agreed, so that the metrics can be built and tested against them.

/** The four kinds of gRPC call, as go-grpc-prometheus names them in `grpc_type`. */
export type RpcType = "unary" | "client_stream" | "server_stream" | "bidi_stream";

/** Watches every call a server serves, for metrics. Called on the hot path: keep it cheap. */
export interface CallObserver {
  /** A call started (its headers were accepted and routed); answers the call's tracker. */
  callStarted(call: { readonly service: string; readonly method: string; readonly type: RpcType }): CallTracker;
}

/** One call's progress, as its server reports it to a `CallObserver`. */
export interface CallTracker {
  messageReceived(): void;
  messageSent(): void;
  /** Once, when the call ends: its gRPC status code (CANCELLED if the client went away). */
  ended(code: number): void;
}

/**
 * What one server's HTTP/2 transport refused or counted so far, read live
 * (`OffloadServer.transportStats()`). Counts only grow, except `connections.open`.
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
  /** Times each limit refused something, by limit name. */
  readonly limitHits: Readonly<Partial<Record<string, number>>>;
}

/** A server whose transport reports `TransportStats`. */
export interface TransportStatsSource {
  transportStats(): TransportStats;
}

// TEMPORARY: the call observer the metrics need, until @sessionoffload/server-transport
// accepts one (issue 15). TransportStats already comes from server-transport.

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

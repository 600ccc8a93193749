/** The four kinds of gRPC call, as go-grpc-prometheus names them in `grpc_type`. */
export type RpcType = "unary" | "client_stream" | "server_stream" | "bidi_stream";

/** The call a `CallObserver` is told about: one object per method, shared by all its calls (do not keep per-call state on it). */
export interface ObservedCall {
  /** Fully qualified service name, e.g. "sessions.v1.SessionTable". */
  readonly service: string;
  /** Method name as in the call's path, e.g. "addSession". */
  readonly method: string;
  /** Unary or streaming, from the method's definition. */
  readonly type: RpcType;
}

/**
 * Watches every call a server serves, for metrics (`OffloadServerOptions.callObserver`).
 * Called on the hot path, synchronously: keep it cheap and never throw.
 *
 * Reported: the native transport's own calls (from when their headers are
 * routed) and every call grpc-js runs a handler for (on the grpc-js
 * transport, and the calls the native transport forwards to it: health,
 * reflection, compressed requests, methods without a native route). Not reported,
 * as with go-grpc-prometheus: requests refused before any method is chosen
 * (an unknown method's UNIMPLEMENTED, a bad content type, a stream refused by
 * a transport limit).
 */
export interface CallObserver {
  /** A call started; answers the tracker the server reports the call's progress to. */
  callStarted(call: ObservedCall): CallTracker;
}

/** One call's progress, as its server reports it to a `CallObserver`. */
export interface CallTracker {
  /** A request message was received (decoded). */
  messageReceived(): void;
  /** A response message was accepted for sending. */
  messageSent(): void;
  /**
   * Once, when the call ends: its gRPC status code (0 OK, 4 DEADLINE_EXCEEDED,
   * ...), or CANCELLED (1) when the client reset the stream or went away before
   * the status was sent (DEADLINE_EXCEEDED when that was at its deadline, or
   * within 20 ms before it: the client's deadline timer fires first).
   */
  ended(code: number): void;
}

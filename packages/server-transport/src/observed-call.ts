import type { CallObserver, CallTracker, ObservedCall, RpcType } from "./call-observer";
import type { NativeRoute } from "./grpc/route";

/** The `ObservedCall` of a gRPC path ("/sessions.v1.SessionTable/addSession") of the given type. */
export function observedCall(path: string, type: RpcType): ObservedCall {
  const slash = path.lastIndexOf("/");
  return Object.freeze({ service: path.slice(1, Math.max(1, slash)), method: path.slice(slash + 1), type });
}

/** The `grpc_type` of a method from its definition's stream flags. */
export function rpcTypeOf(method: { readonly requestStream: boolean; readonly responseStream: boolean }): RpcType {
  if (method.requestStream) return method.responseStream ? "bidi_stream" : "client_stream";
  return method.responseStream ? "server_stream" : "unary";
}

// The `grpc_type` of each kind of native route.
const RPC_TYPES: Readonly<Record<NativeRoute["kind"], RpcType>> = {
  unary: "unary",
  serverStream: "server_stream",
  clientStream: "client_stream",
};

/** Starts the observation of one call of a native route: answers its tracker. */
export type NativeCallStarter = (route: NativeRoute) => CallTracker;

/** The `NativeCallStarter` reporting to `observer` (undefined without one), with each route's `ObservedCall` made once. */
export function nativeCallStarter(
  routes: Iterable<NativeRoute>,
  observer: CallObserver | undefined,
): NativeCallStarter | undefined {
  if (observer === undefined) return undefined;
  const calls = new Map<NativeRoute, ObservedCall>();
  for (const route of routes) {
    calls.set(route, observedCall(route.path, RPC_TYPES[route.kind]));
  }
  return (route) => observer.callStarted(calls.get(route) ?? observedCall(route.path, "unary"));
}

// How close to its deadline a cut-off call counts as past it: the client's deadline timer fires before the server's
// (the request took time to arrive), and a timer may fire a little before Date.now() says it is due.
const DEADLINE_SLACK_MS = 20;

/**
 * The status code to report for a call the client cut off (reset, went away)
 * or that grpc-js ended below the interceptors: DEADLINE_EXCEEDED (4) when its
 * deadline (Date.now() based ms, Infinity for none) has passed or is a few ms
 * away, else CANCELLED (1).
 */
export function cutOffCode(deadline: number): number {
  return deadline !== Infinity && Date.now() >= deadline - DEADLINE_SLACK_MS ? 4 : 1;
}

import { Metadata, ServerInterceptingCall, status, type ServerInterceptor } from "@grpc/grpc-js";

/** Remembers the calls in flight on a grpc-js server so that a forced shutdown can end them. */
export interface InFlightCalls {
  /** The server interceptor that registers each call until it sends its status or is cancelled. */
  readonly interceptor: ServerInterceptor;
  /** Ends every call still in flight with UNAVAILABLE. */
  cancelAll(): void;
}

/**
 * Creates an `InFlightCalls`, through grpc-js's public server interceptor API.
 * grpc-js's `forceShutdown()` destroys open connections only when channelz is
 * enabled (it keeps its session list for channelz alone); with
 * `grpc.enable_channelz: 0` calls in flight would outlive a forced stop.
 */
export function createInFlightCalls(): InFlightCalls {
  const calls = new Set<ServerInterceptingCall>();
  const interceptor: ServerInterceptor = (_method, next) => {
    const call: ServerInterceptingCall = new ServerInterceptingCall(next, {
      start: (proceed) => proceed({ onCancel: () => calls.delete(call) }),
      sendStatus: (outcome, proceed) => {
        calls.delete(call);
        proceed(outcome);
      },
    });
    calls.add(call);
    return call;
  };
  return {
    interceptor,
    cancelAll() {
      const open = [...calls];
      calls.clear();
      for (const call of open) {
        call.sendStatus({ code: status.UNAVAILABLE, details: "Server shut down", metadata: new Metadata() });
      }
    },
  };
}

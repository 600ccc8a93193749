import { ServerInterceptingCall, type ServerInterceptor } from "@grpc/grpc-js";
import type { CallObserver, ObservedCall } from "../call-observer";
import { cutOffCode, observedCall, rpcTypeOf } from "../observed-call";

/**
 * A grpc-js server interceptor (public API) that reports every call grpc-js
 * runs a handler for to `observer`: started when the interceptor runs, each
 * message received and sent, and the status once. grpc-js ends a call past
 * its deadline (and a cancelled one) below the interceptors, without passing
 * the status through them: such a call is reported by `cutOffCode`.
 */
export function createObserverInterceptor(observer: CallObserver): ServerInterceptor {
  const calls = new Map<string, ObservedCall>();
  return (method, next) => {
    let described = calls.get(method.path);
    if (described === undefined) {
      described = observedCall(method.path, rpcTypeOf(method));
      calls.set(method.path, described);
    }
    const tracker = observer.callStarted(described);
    let done = false;
    return new ServerInterceptingCall(next, {
      start: (proceed) =>
        proceed({
          onReceiveMessage: (message, pass) => {
            tracker.messageReceived();
            pass(message);
          },
          onCancel: () => {
            if (done) return;
            done = true;
            const deadline = next.getDeadline();
            tracker.ended(cutOffCode(deadline instanceof Date ? deadline.getTime() : deadline));
          },
        }),
      sendMessage: (message, pass) => {
        tracker.messageSent();
        pass(message);
      },
      sendStatus: (outcome, pass) => {
        if (!done) {
          done = true;
          tracker.ended(outcome.code);
        }
        pass(outcome);
      },
    });
  };
}

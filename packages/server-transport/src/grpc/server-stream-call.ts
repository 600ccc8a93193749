import type { IncomingHttpHeaders } from "node:http2";
import { status, type ServerWritableStream } from "@grpc/grpc-js";
import { respondTrailersOnly, type CallStream } from "./call-context";
import { DEADLINE_EXCEEDED, isDeadlineError, startDeadline } from "./call-deadline";
import type { CallTracker } from "../call-observer";
import { cutOffCode } from "../observed-call";
import type { CallOptions } from "./call-options";
import type { NativeServerStreamRoute } from "./route";
import { messageOf, type GrpcStatus } from "./grpc-status";
import { readSingleRequest } from "./request-reader";
import { createWritableCall, type WritableCallControl } from "./writable-call";

/**
 * Serves one server-streaming call of `route` on `stream`: reads the single
 * request, then runs the handler with a `NativeWritableCall`. A malformed
 * request or `grpc-timeout` is answered trailers-only; an expired deadline
 * ends the call DEADLINE_EXCEEDED and emits 'cancelled' to the handler.
 * `tracker`, when given, is told the request, each response and the status.
 */
export function serveServerStreamCall(
  stream: CallStream,
  headers: IncomingHttpHeaders,
  route: NativeServerStreamRoute,
  options: CallOptions,
  tracker?: CallTracker,
): void {
  let control: WritableCallControl | undefined;
  let done = false;
  const fail = (status: GrpcStatus): void => {
    if (control) control.abort(status);
    else if (!done) {
      done = true;
      deadline.clear();
      tracker?.ended(status.code);
      respondTrailersOnly(stream, status);
    }
  };
  const started = startDeadline(headers, () => fail(DEADLINE_EXCEEDED));
  if (isDeadlineError(started)) {
    tracker?.ended(started.code);
    respondTrailersOnly(stream, started);
    return;
  }
  const deadline = started;
  stream.on("error", () => undefined);
  stream.on("close", () => {
    if (control || done) return; // the call object reports it
    done = true;
    deadline.clear();
    tracker?.ended(cutOffCode(deadline.at));
  });

  readSingleRequest(stream, route.path, options.maxReceiveMessageLength, route.decode, {
    onReject: fail,
    onRequest(request) {
      if (done) return;
      tracker?.messageReceived();
      control = createWritableCall(stream, {
        headers,
        path: route.path,
        request,
        deadline: deadline.at,
        serialize: route.serialize,
        options,
        onDone: deadline.clear,
        tracker,
      });
      try {
        // The one cast: the native call offers what ServerWritableStream handlers use (see NativeWritableCall).
        route.handler(control.call as unknown as ServerWritableStream<unknown, unknown>);
      } catch (e) {
        fail({ code: status.UNKNOWN, details: `Server method handler threw error ${messageOf(e)}` });
      }
    },
  });
}

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http2";
import { status, type Metadata, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import {
  frameMessage,
  hostOf,
  isGone,
  peerOf,
  requestMetadata,
  respondTrailersOnly,
  responseHeaders,
  RESPONSE_HEADERS,
  statusTrailers,
  type CallStream,
  type FastCallBase,
} from "./call-context";
import { DEADLINE_EXCEEDED, isDeadlineError, startDeadline, type CallDeadline } from "./call-deadline";
import type { FastCallOptions } from "./fast-call-options";
import type { FastUnaryRoute } from "./fast-route";
import { errorToStatus, messageOf, OK_STATUS, type GrpcStatus } from "./grpc-status";
import { readSingleRequest } from "./request-reader";

const WAIT_FOR_TRAILERS = Object.freeze({ waitForTrailers: true });
const OK_TRAILERS: Readonly<OutgoingHttpHeaders> = Object.freeze(statusTrailers(OK_STATUS));

// The part of grpc-js's ServerUnaryCall that a fast call offers (no events).
type FastUnaryCall = FastCallBase;

/**
 * Serves one unary call of `route` on `stream`: reads the single request,
 * runs the handler with a call object and a callback, and answers once: the
 * message with headers and OK trailers, or a trailers-only error. An expired
 * `grpc-timeout` answers DEADLINE_EXCEEDED and sets `call.cancelled`; a peer
 * that resets or goes away sets `call.cancelled` and gets no answer; answers
 * after either are dropped.
 */
export function serveUnaryCall(
  stream: CallStream,
  headers: IncomingHttpHeaders,
  route: FastUnaryRoute,
  options: FastCallOptions,
): void {
  let answered = false;
  let call: FastUnaryCall | undefined;
  let custom: Metadata | undefined;

  // Marks the call answered; false when it already was or the stream is gone.
  const settle = (): boolean => {
    if (answered) return false;
    answered = true;
    deadline.clear();
    return !isGone(stream);
  };
  const fail = (status: GrpcStatus): void => {
    if (settle()) respondTrailersOnly(stream, status);
  };

  const started = startDeadline(headers, () => {
    fail(DEADLINE_EXCEEDED);
    if (call) call.cancelled = true;
  });
  if (isDeadlineError(started)) {
    answered = true;
    respondTrailersOnly(stream, started);
    return;
  }
  const deadline: CallDeadline = started;

  // Errors on the stream come with a 'close'; without a listener they would be thrown.
  stream.on("error", () => undefined);
  stream.on("close", () => {
    if (answered) return;
    answered = true;
    deadline.clear();
    if (call) call.cancelled = true;
  });

  const callback: sendUnaryData<unknown> = (err, value, trailer) => {
    if (answered) return;
    if (err) {
      fail(errorToStatus(err, trailer));
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = route.serialize(value);
    } catch (e) {
      fail({ code: status.INTERNAL, details: `Error serializing response: ${messageOf(e)}` });
      return;
    }
    const limit = options.maxSendMessageLength;
    if (limit !== -1 && bytes.length > limit) {
      fail({ code: status.RESOURCE_EXHAUSTED, details: `Sent message larger than max (${bytes.length} vs. ${limit})` });
      return;
    }
    if (!settle()) return;
    const trailers = trailer ? statusTrailers({ ...OK_STATUS, metadata: trailer }) : OK_TRAILERS;
    stream.respond(custom ? responseHeaders(custom) : RESPONSE_HEADERS, WAIT_FOR_TRAILERS);
    stream.once("wantTrailers", () => stream.sendTrailers(trailers));
    stream.end(frameMessage(bytes));
  };

  readSingleRequest(stream, route.path, options.maxReceiveMessageLength, route.decode, {
    onReject: fail,
    onRequest(request) {
      if (answered) return;
      let metadata: Metadata | undefined;
      call = {
        request,
        cancelled: false,
        get metadata() {
          return (metadata ??= requestMetadata(headers));
        },
        getPeer: () => peerOf(stream),
        getDeadline: () => deadline.at,
        getPath: () => route.path,
        getHost: () => hostOf(headers),
        sendMetadata(md) {
          if (!answered) custom = md;
        },
      };
      try {
        // The one cast: handlers of fast routes get this subset of ServerUnaryCall (no events).
        route.handler(call as unknown as ServerUnaryCall<unknown, unknown>, callback);
      } catch (e) {
        fail({ code: status.UNKNOWN, details: `Server method handler threw error ${messageOf(e)}` });
      }
    },
  });
}

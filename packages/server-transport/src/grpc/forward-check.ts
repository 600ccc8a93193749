import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http2";
import { status } from "@grpc/grpc-js";
import { isGone, trailersOnlyHeaders, type CallStream } from "./call-context";
import { encodeGrpcMessage } from "./grpc-message-encoding";
import { parseGrpcTimeout } from "./grpc-timeout";

// PROTOCOL-HTTP2: Content-Type → "content-type" "application/grpc" [("+proto" / "+json" / {custom})].
function isGrpcContentType(value: string | undefined): boolean {
  if (value === undefined || !value.startsWith("application/grpc")) return false;
  const next = value.charCodeAt(16); // after "application/grpc": the end, '+' or ';'
  return Number.isNaN(next) || next === 0x2b || next === 0x3b;
}

function refusal(httpStatus: number, code: status, details: string): OutgoingHttpHeaders {
  return { ":status": httpStatus, "grpc-status": String(code), "grpc-message": encodeGrpcMessage(details) };
}

/**
 * Answers a request that is not a well-formed gRPC call before it would be
 * forwarded to grpc-js, which would serve it (grpc-js checks neither the
 * method nor the content-type's subtype, and reads a grpc-timeout of nine
 * digits from its last eight): a `:method` other than POST gets HTTP 405, a
 * content-type other than application/grpc[+subtype][;params] HTTP 415 (as
 * PROTOCOL-HTTP2 asks), and a malformed `grpc-timeout` a trailers-only
 * INTERNAL, as the native routes answer it. True when it answered.
 */
export function refuseMalformedCall(stream: CallStream, headers: IncomingHttpHeaders): boolean {
  let answer: OutgoingHttpHeaders | undefined;
  const method = headers[":method"];
  const contentType = headers["content-type"];
  const timeout = headers["grpc-timeout"];
  if (method !== "POST") {
    answer = refusal(405, status.UNIMPLEMENTED, `${String(method)} is not allowed: gRPC calls are POST`);
    answer.allow = "POST";
  } else if (!isGrpcContentType(contentType)) {
    answer = refusal(415, status.UNKNOWN, `content-type ${String(contentType)} is not application/grpc`);
  } else if (timeout !== undefined && (Array.isArray(timeout) || parseGrpcTimeout(timeout) === undefined)) {
    answer = trailersOnlyHeaders({ code: status.INTERNAL, details: `Invalid grpc-timeout value "${String(timeout)}"` });
  } else {
    return false;
  }
  if (!isGone(stream)) stream.respond(answer, { endStream: true });
  return true;
}

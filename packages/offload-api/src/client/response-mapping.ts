import { status } from "@grpc/grpc-js";
import { sessionFromWire } from "../convert";
import { sessionsV1 } from "../wire";
import { OffloadError } from "./offload-error";
import type { AddSessionResult, SessionLookup } from "./results";

const { REQUEST_STATUS } = sessionsV1;

function unexpected(method: string, response: sessionsV1.sessionResponse): OffloadError {
  const name = sessionsV1.rEQUEST_STATUSToJSON(response.requestStatus);
  return new OffloadError(status.UNKNOWN, `the server answered requestStatus ${name} (${response.requestStatus})`, {
    method,
  });
}

function session(method: string, response: sessionsV1.sessionResponse): ReturnType<typeof sessionFromWire> {
  try {
    return sessionFromWire(response);
  } catch (err) {
    throw new OffloadError(status.INTERNAL, (err as Error).message, { cause: err, method });
  }
}

/**
 * Maps an addSession response to a result; `attempts` > 1 marks an
 * `alreadyExists` as possibly this call's own earlier attempt. A status
 * outside the contract (_REJECTED, NONEXISTENT) or an accepted id of 0 throws
 * `OffloadError` (UNKNOWN / INTERNAL).
 */
export function addResultFromWire(response: sessionsV1.sessionResponse, attempts: number): AddSessionResult {
  switch (response.requestStatus) {
    case REQUEST_STATUS._ACCEPTED:
      if (response.sessionId === 0n) {
        throw new OffloadError(status.INTERNAL, "the server accepted the session with sessionId 0", {
          method: "addSession",
        });
      }
      return { kind: "accepted", id: response.sessionId, session: session("addSession", response) };
    case REQUEST_STATUS._REJECTED_SESSION_ALREADY_EXISTS:
      return { kind: "alreadyExists", id: response.sessionId, afterRetry: attempts > 1 };
    case REQUEST_STATUS._REJECTED_SESSION_TABLE_FULL:
      return { kind: "tableFull" };
    default:
      throw unexpected("addSession", response);
  }
}

/** Maps a getSession/deleteSession response to `found` or `notFound`; any other status throws `OffloadError` UNKNOWN. */
export function lookupFromWire(method: string, response: sessionsV1.sessionResponse): SessionLookup {
  switch (response.requestStatus) {
    case REQUEST_STATUS._ACCEPTED:
      return { kind: "found", session: session(method, response) };
    case REQUEST_STATUS._REJECTED_SESSION_NONEXISTENT:
      return { kind: "notFound" };
    default:
      throw unexpected(method, response);
  }
}

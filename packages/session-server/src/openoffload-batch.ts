import { status } from "@grpc/grpc-js";
import { nanosToTimestamp, openoffloadV1, type EpochNanos } from "@sessionoffload/offload-api";

const { ADD_SESSION_STATUS } = openoffloadV1;

/** The per-session outcomes of one openoffload.v1 addSession stream, as they are decided. */
export interface BatchOutcome {
  /** Records that the session at `position` (0-based, in stream order) with `id` failed with gRPC `code`. */
  fail(position: number, id: bigint, code: status): void;
  /** Sessions failed so far. */
  readonly failures: number;
  /** The answer: `responseError` in stream order, the bitmask of the first 64 positions, the summary. */
  answer(startTime: EpochNanos): openoffloadV1.addSessionResponse;
}

/**
 * The summary `requestStatus` of a batch: `_SESSION_ACCEPTED` when every
 * session went in; else `_SESSION_TABLE_UNAVAILABLE` if the switch failed for
 * any, `_SESSION_TABLE_FULL` if any did not fit, `_SESSION_ALREADY_EXISTS` if
 * every failure was a duplicate, and `_SESSION_REJECTED` otherwise (malformed
 * sessions among the failures).
 */
function summary(codes: ReadonlySet<status>): openoffloadV1.ADD_SESSION_STATUS {
  if (codes.size === 0) return ADD_SESSION_STATUS._SESSION_ACCEPTED;
  if (codes.has(status.UNAVAILABLE) || codes.has(status.INTERNAL)) return ADD_SESSION_STATUS._SESSION_TABLE_UNAVAILABLE;
  if (codes.has(status.RESOURCE_EXHAUSTED)) return ADD_SESSION_STATUS._SESSION_TABLE_FULL;
  if (codes.size === 1 && codes.has(status.ALREADY_EXISTS)) return ADD_SESSION_STATUS._SESSION_ALREADY_EXISTS;
  return ADD_SESSION_STATUS._SESSION_REJECTED;
}

/** Makes an empty outcome; failures may be recorded in any order (a promise-based switch answers out of order). */
export function createBatchOutcome(): BatchOutcome {
  const errors: { position: number; error: openoffloadV1.sessionResponseError }[] = [];
  const codes = new Set<status>();
  let mask = 0n;
  let ordered = true;
  return {
    fail(position, id, code) {
      const last = errors[errors.length - 1];
      if (last !== undefined && last.position > position) ordered = false;
      errors.push({ position, error: { sessionId: id, errorStatus: code } });
      codes.add(code);
      if (position < 64) mask |= 1n << BigInt(position);
    },
    get failures() {
      return errors.length;
    },
    answer(startTime) {
      if (!ordered) errors.sort((a, b) => a.position - b.position);
      return {
        requestStatus: summary(codes),
        errorStatus: mask,
        startTime: nanosToTimestamp(startTime),
        responseError: errors.map((e) => e.error),
      };
    },
  };
}

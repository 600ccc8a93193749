import { status } from "@grpc/grpc-js";
import type { openoffloadV1 } from "../wire";
import { OffloadError } from "./offload-error";

/**
 * The outcome of one session of `OpenOffloadClient.addSessions`, from the
 * server's per-session `responseError` (gRPC status code numbers): `accepted`,
 * `alreadyExists` (6: the id, or the session's live 7-tuple, is in the table;
 * `afterRetry` when the batch had been sent again after UNAVAILABLE, so the
 * session may be this call's own), `tableFull` (8), `invalid` (3: the server
 * found the session malformed), or `failed` with any other code (the switch
 * could not serve it: 14 UNAVAILABLE, 13 INTERNAL).
 */
export type OpenOffloadAddResult =
  | { readonly kind: "accepted"; readonly id: bigint }
  | { readonly kind: "alreadyExists"; readonly id: bigint; readonly afterRetry: boolean }
  | { readonly kind: "tableFull"; readonly id: bigint }
  | { readonly kind: "invalid"; readonly id: bigint }
  | { readonly kind: "failed"; readonly id: bigint; readonly code: number };

function popcount(mask: bigint): number {
  let n = 0;
  for (let m = mask; m !== 0n; m &= m - 1n) n += 1;
  return n;
}

function resultOf(id: bigint, code: number, attempts: number): OpenOffloadAddResult {
  switch (code) {
    case status.ALREADY_EXISTS:
      return { kind: "alreadyExists", id, afterRetry: attempts > 1 };
    case status.RESOURCE_EXHAUSTED:
      return { kind: "tableFull", id };
    case status.INVALID_ARGUMENT:
      return { kind: "invalid", id };
    default:
      return { kind: "failed", id, code };
  }
}

/**
 * Maps an addSessionResponse to one result per sent session. Positions come
 * from the `errorStatus` bitmask when it accounts for every `responseError`
 * (batches of at most 64); otherwise each error is matched, in order, to the
 * first session with its id not yet matched. An error that matches no sent
 * session throws `OffloadError` INTERNAL.
 */
export function batchResultsFromWire(
  ids: readonly bigint[],
  response: openoffloadV1.addSessionResponse,
  attempts: number,
): OpenOffloadAddResult[] {
  const results: OpenOffloadAddResult[] = ids.map((id) => ({ kind: "accepted", id }));
  const errors = response.responseError;
  if (ids.length <= 64 && popcount(response.errorStatus) === errors.length) {
    let e = 0;
    for (let i = 0; i < ids.length && e < errors.length; i++) {
      if ((response.errorStatus & (1n << BigInt(i))) === 0n) continue;
      const error = errors[e++] as openoffloadV1.sessionResponseError;
      results[i] = resultOf(ids[i] ?? 0n, error.errorStatus, attempts);
    }
    return results;
  }
  const matched = new Array<boolean>(ids.length).fill(false);
  for (const error of errors) {
    const i = ids.findIndex((id, at) => !matched[at] && id === error.sessionId);
    if (i < 0) {
      throw new OffloadError(status.INTERNAL, `the server reported session ${error.sessionId}, which was not sent`, {
        method: "addSession",
      });
    }
    matched[i] = true;
    results[i] = resultOf(error.sessionId, error.errorStatus, attempts);
  }
  return results;
}

import type { Session } from "../types";

/**
 * The outcome of addSession. `alreadyExists` carries the id of the live
 * session with the same 7-tuple; `afterRetry` is true when the call had been
 * retried after UNAVAILABLE, in which case that session may well be the one
 * this very call added before the connection failed (the 7-tuple dedupe is
 * what makes retrying addSession safe).
 */
export type AddSessionResult =
  | { readonly kind: "accepted"; readonly id: bigint; readonly session: Session }
  | { readonly kind: "alreadyExists"; readonly id: bigint; readonly afterRetry: boolean }
  | { readonly kind: "tableFull" };

/** The outcome of getSession and deleteSession: the session, or `notFound` for an id not in the table. */
export type SessionLookup = { readonly kind: "found"; readonly session: Session } | { readonly kind: "notFound" };

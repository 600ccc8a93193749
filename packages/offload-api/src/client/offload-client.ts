import { status, type ChannelOptions } from "@grpc/grpc-js";
import { sessionFromWire } from "../convert";
import { UINT64_MAX, type Session } from "../types";
import { ValidationError } from "../validation";
import { sessionsV1 } from "../wire";
import { resolveDeadline, type CallOptions, type StreamOptions } from "./call-options";
import { createChannelCredentials, type ClientCredentialsOptions } from "./client-credentials";
import type { ClientLogger, RetryEvent } from "./client-logger";
import { OffloadError } from "./offload-error";
import { addResultFromWire, lookupFromWire } from "./response-mapping";
import type { AddSessionResult, SessionLookup } from "./results";
import type { RetryContext } from "./retry-loop";
import { resolveRetryPolicy, type RetryPolicy } from "./retry-policy";
import { toSessionRequest, type SessionInput } from "./session-input";
import { streamCall } from "./stream-call";
import { invokeUnary } from "./unary-call";
import { waitForRoom, type WaitForRoomOptions } from "./wait-for-room";

/**
 * Default target of the SessionTable service: the original demo's port, by
 * name rather than as 127.0.0.1, because with TLS the target's host is sent
 * as the server name, and Node warns (DEP0123) when that is an IP address.
 */
export const DEFAULT_SESSIONS_ADDRESS = "localhost:3443";
/** Default target of the SessionStatisticsTable service (`localhost`, as `DEFAULT_SESSIONS_ADDRESS`). */
export const DEFAULT_STATS_ADDRESS = "localhost:3444";
/** Default time budget of a unary call, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** Options of `createOffloadClient`; every field is optional. */
export interface OffloadClientOptions {
  /** host:port of the SessionTable service; default localhost:3443. */
  readonly sessionsAddress?: string;
  /** host:port of the SessionStatisticsTable service; default localhost:3444. */
  readonly statsAddress?: string;
  /** TLS (default, system roots unless `ca`/`caFile`), mutual TLS, or `{ insecure: true }`. */
  readonly credentials?: ClientCredentialsOptions;
  /** Host name to verify the server certificate against instead of the target's (TLS only). */
  readonly serverName?: string;
  /** Time budget of a unary call (all retries included) when the call gives none; default 10 000 ms. */
  readonly defaultTimeoutMs?: number;
  /** Time budget of a streaming call when the call gives none; default none (a large table takes time). */
  readonly defaultStreamTimeoutMs?: number;
  /** Retries of UNAVAILABLE (see `RetryPolicy`); `false` disables them. */
  readonly retry?: Partial<RetryPolicy> | false;
  /** Source of jitter in [0, 1); default Math.random. */
  readonly random?: () => number;
  /** Milliseconds since the epoch; default Date.now. Deadlines and waits are measured with it. */
  readonly now?: () => number;
  /** Receives a debug line per retry. */
  readonly logger?: ClientLogger;
  /** Called before each retry (after the backoff is chosen, before waiting it). */
  readonly onRetry?: (event: RetryEvent) => void;
  /** Extra grpc-js channel options; they win over the client's own. */
  readonly channelOptions?: ChannelOptions;
}

/** A typed client of both session offload services. Create with `createOffloadClient`. */
export interface OffloadClient {
  /**
   * Offloads a session. Input is validated locally with the servers'
   * validator (`ValidationError` naming the field, nothing sent). Retried
   * after UNAVAILABLE: safe because a repeated 7-tuple answers `alreadyExists`
   * with the id (`afterRetry: true` then).
   */
  addSession(input: SessionInput, options?: CallOptions): Promise<AddSessionResult>;
  /**
   * Like addSession, but while the table is full waits `pollMs` and tries
   * again, for at most `maxWaitMs`; resolves `tableFull` if there is still no room.
   */
  addSessionWaitingForRoom(input: SessionInput, options: WaitForRoomOptions): Promise<AddSessionResult>;
  /** The session as the switch sees it now, or `notFound`. */
  getSession(id: bigint, options?: CallOptions): Promise<SessionLookup>;
  /** Takes a session back: `found` with its final counters (state closing1), or `notFound`. Not retried unless `retry.retryDelete`. */
  deleteSession(id: bigint, options?: CallOptions): Promise<SessionLookup>;
  /** Every session in the table in ascending id order; `break` cancels the call. */
  getAllSessions(options?: StreamOptions): AsyncIterable<Session>;
  /**
   * Ended sessions, each delivered once: the server removes a session from the
   * table when it writes it. `break` cancels the call; the sessions the server
   * had not written yet stay for the next call, but those already written (in
   * flight or buffered here) are gone: bound the call with `pageSize` to what
   * you will consume, or read to the end.
   */
  getClosedSessions(options?: StreamOptions): AsyncIterable<Session>;
  /** Closes both channels; calls made afterwards reject with OffloadError FAILED_PRECONDITION. */
  close(): void;
}

function checkId(id: bigint): bigint {
  if (typeof id !== "bigint" || id < 0n || id > UINT64_MAX) {
    throw new ValidationError("id", `must be a bigint in 0..2^64-1, got ${String(id)}`);
  }
  return id;
}

function checkPageSize(pageSize: number | undefined): number {
  const value = pageSize ?? 0;
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new ValidationError("pageSize", `must be an integer in 0..4294967295, got ${value}`);
  }
  return value;
}

/**
 * Creates a client of the SessionTable service (`sessionsAddress`) and the
 * SessionStatisticsTable service (`statsAddress`). Channels connect lazily on
 * the first call. Throws `ValidationError` for bad credentials or retry options.
 */
export function createOffloadClient(options: OffloadClientOptions = {}): OffloadClient {
  const policy = resolveRetryPolicy(options.retry);
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const credentials = createChannelCredentials(options.credentials);
  const channelOptions: ChannelOptions = {
    // Reconnect about as often as the retries come, so that a retry can find a server that just started.
    "grpc.initial_reconnect_backoff_ms": Math.max(policy.initialBackoffMs, 20),
    "grpc.max_reconnect_backoff_ms": Math.max(policy.maxBackoffMs, 20),
    ...(options.serverName === undefined ? {} : { "grpc.ssl_target_name_override": options.serverName }),
    ...options.channelOptions,
  };
  const sessions = new sessionsV1.SessionTableClient(
    options.sessionsAddress ?? DEFAULT_SESSIONS_ADDRESS,
    credentials,
    channelOptions,
  );
  const stats = new sessionsV1.SessionStatisticsTableClient(
    options.statsAddress ?? DEFAULT_STATS_ADDRESS,
    credentials,
    channelOptions,
  );
  let closed = false;

  function context(method: string, call: CallOptions, retryable: boolean, defaultMs: number | undefined): RetryContext {
    if (closed) throw new OffloadError(status.FAILED_PRECONDITION, "the client is closed", { method });
    return {
      method,
      policy,
      retryable,
      deadlineMs: resolveDeadline(call, defaultMs, now()),
      signal: call.signal,
      random,
      now,
      logger: options.logger,
      onRetry: options.onRetry,
    };
  }

  async function addSession(input: SessionInput, call: CallOptions = {}): Promise<AddSessionResult> {
    const request = toSessionRequest(input);
    const ctx = context("addSession", call, true, defaultTimeoutMs);
    const { response, attempts } = await invokeUnary<sessionsV1.sessionResponse>(ctx, (md, opts, cb) =>
      sessions.addSession(request, md, opts, cb),
    );
    return addResultFromWire(response, attempts);
  }

  async function lookup(method: "getSession" | "deleteSession", id: bigint, call: CallOptions): Promise<SessionLookup> {
    const request = { sessionId: checkId(id) };
    const retryable = method === "getSession" || policy.retryDelete;
    const ctx = context(method, call, retryable, defaultTimeoutMs);
    const { response } = await invokeUnary<sessionsV1.sessionResponse>(ctx, (md, opts, cb) =>
      method === "getSession"
        ? sessions.getSession(request, md, opts, cb)
        : sessions.deleteSession(request, md, opts, cb),
    );
    return lookupFromWire(method, response);
  }

  function stream(method: "getAllSessions" | "getClosedSessions", call: StreamOptions): AsyncIterable<Session> {
    const request = { pageSize: checkPageSize(call.pageSize) };
    return {
      [Symbol.asyncIterator]: () =>
        streamCall(
          () => context(method, call, true, options.defaultStreamTimeoutMs),
          (opts) =>
            method === "getAllSessions" ? stats.getAllSessions(request, opts) : stats.getClosedSessions(request, opts),
          sessionFromWire,
        ),
    };
  }

  return {
    addSession,
    addSessionWaitingForRoom: (input, waitOptions) =>
      waitForRoom(
        () => toSessionRequest(input),
        (call) => addSession(input, call),
        waitOptions,
        now,
      ),
    getSession: (id, call = {}) => lookup("getSession", id, call),
    deleteSession: (id, call = {}) => lookup("deleteSession", id, call),
    getAllSessions: (call = {}) => stream("getAllSessions", call),
    getClosedSessions: (call = {}) => stream("getClosedSessions", call),
    close() {
      if (closed) return;
      closed = true;
      sessions.close();
      stats.close();
    },
  };
}

import { status, type ChannelOptions, type ClientUnaryCall } from "@grpc/grpc-js";
import { openOffloadSessionFromWire } from "../openoffload/openoffload-convert";
import { UINT64_MAX, type Session } from "../types";
import { ValidationError } from "../validation";
import { openoffloadV1 } from "../wire";
import { resolveDeadline, type CallOptions } from "./call-options";
import { createChannelCredentials, type ClientCredentialsOptions } from "./client-credentials";
import type { ClientLogger, RetryEvent } from "./client-logger";
import { DEFAULT_SESSIONS_ADDRESS, DEFAULT_TIMEOUT_MS } from "./offload-client";
import { isServiceError, OffloadError } from "./offload-error";
import { batchResultsFromWire, type OpenOffloadAddResult } from "./openoffload-results";
import { toOpenOffloadRequest, type OpenOffloadSessionInput } from "./openoffload-input";
import type { SessionLookup } from "./results";
import type { RetryContext } from "./retry-loop";
import { resolveRetryPolicy, type RetryPolicy } from "./retry-policy";
import { streamCall } from "./stream-call";
import { invokeUnary } from "./unary-call";

/** Sessions per addSession stream by default: what the reference client sends. */
export const DEFAULT_OPENOFFLOAD_BATCH_SIZE = 64;
/** Sessions per getAllSessions page and per getClosedSessions call by default: what the reference client asks. */
export const DEFAULT_OPENOFFLOAD_PAGE = 64;

/** Options of `createOpenOffloadClient`; every field is optional. */
export interface OpenOffloadClientOptions {
  /** host:port of the server (openoffload.v1.SessionTable); default localhost:3443, beside sessions.v1. */
  readonly address?: string;
  /** TLS (default, system roots unless `ca`/`caFile`), mutual TLS, or `{ insecure: true }`. */
  readonly credentials?: ClientCredentialsOptions;
  /** Host name to verify the server certificate against instead of the target's (TLS only). */
  readonly serverName?: string;
  /**
   * Time budget of each call (all retries included) when the call gives none;
   * default 10 000 ms. (The reference C client's is 100 ms; our servers answer
   * a 64-session batch well within it, but a durable switch that syncs to disk,
   * on a loaded host, may not, so the default is the first client's.)
   */
  readonly defaultTimeoutMs?: number;
  /** Sessions per addSession stream, 1..64 (the bitmask covers 64 positions); default 64. */
  readonly batchSize?: number;
  /** Retries of UNAVAILABLE (see `RetryPolicy`); `false` disables them. */
  readonly retry?: Partial<RetryPolicy> | false;
  /** Source of jitter in [0, 1); default Math.random. */
  readonly random?: () => number;
  /** Milliseconds since the epoch; default Date.now. */
  readonly now?: () => number;
  /** Receives a debug line per retry. */
  readonly logger?: ClientLogger;
  /** Called before each retry. */
  readonly onRetry?: (event: RetryEvent) => void;
  /** Extra grpc-js channel options; they win over the client's own. */
  readonly channelOptions?: ChannelOptions;
}

/** Options of `OpenOffloadClient.getAllSessions`. */
export interface PageOptions extends CallOptions {
  /** Sessions asked per page (per call), 1..65536; default 64. */
  readonly pageSize?: number;
  /** Start after this id (exclusive); default from the lowest id. */
  readonly afterId?: bigint;
}

/** Options of `OpenOffloadClient.getClosedSessions`. */
export interface ClosedOptions extends CallOptions {
  /** At most this many closed sessions, 1..2^32-1; default 64. */
  readonly pageSize?: number;
}

/** A typed client of the second generation, `openoffload.v1.SessionTable`. Create with `createOpenOffloadClient`. */
export interface OpenOffloadClient {
  /**
   * Offloads sessions with the ids the caller assigns, `batchSize` per
   * addSession stream, one stream after another, and resolves to one result
   * per input, in input order. Every input is validated locally first with the
   * servers' validator (`ValidationError` naming `[index].field`; nothing is
   * sent). A batch that fails with UNAVAILABLE is sent again: a session that
   * went in the first time then answers `alreadyExists` with `afterRetry`.
   * Any other failure of a stream rejects with `OffloadError`; the batches
   * before it were applied.
   */
  addSessions(inputs: Iterable<OpenOffloadSessionInput>, options?: CallOptions): Promise<OpenOffloadAddResult[]>;
  /** The session as the switch sees it now, or `notFound` (the server's NOT_FOUND). */
  getSession(id: bigint, options?: CallOptions): Promise<SessionLookup>;
  /** Takes a session back: `found` with its final counters, or `notFound`. Not retried unless `retry.retryDelete`. */
  deleteSession(id: bigint, options?: CallOptions): Promise<SessionLookup>;
  /**
   * Every session in id order, fetched page by page (getAllSessions with the
   * last id received as the exclusive start), until an empty page: a table
   * that changes meanwhile is walked without skips or repeats of the sessions
   * that stay. Each page is one call, retried on UNAVAILABLE. (Reference
   * servers read startSession 4294967295 as "from the beginning": a session
   * with exactly that id ends the walk.)
   */
  getAllSessions(options?: PageOptions): AsyncIterable<Session>;
  /**
   * At most `pageSize` closed sessions, each delivered once (the server
   * removes what it writes). A NOT_FOUND answer (the reference server's "No
   * Closed Sessions") ends the iteration with nothing. `break` cancels the call.
   */
  getClosedSessions(options?: ClosedOptions): AsyncIterable<Session>;
  /** Closes the channel; calls made afterwards reject with OffloadError FAILED_PRECONDITION. */
  close(): void;
}

function checkInteger(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(field, `must be an integer in ${min}..${max}, got ${value}`);
  }
  return value;
}

function checkId(id: bigint): bigint {
  if (typeof id !== "bigint" || id < 1n || id > UINT64_MAX) {
    throw new ValidationError("id", `must be a bigint in 1..2^64-1, got ${String(id)}`);
  }
  return id;
}

/** The reference startSession that means "from the beginning". */
const FROM_BEGINNING = 4_294_967_295n;

/**
 * Creates a client of `openoffload.v1.SessionTable` at `address`. The channel
 * connects lazily on the first call. Throws `ValidationError` for bad
 * credentials, batch size or retry options.
 */
export function createOpenOffloadClient(options: OpenOffloadClientOptions = {}): OpenOffloadClient {
  const policy = resolveRetryPolicy(options.retry);
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const batchSize = checkInteger("batchSize", options.batchSize ?? DEFAULT_OPENOFFLOAD_BATCH_SIZE, 1, 64);
  const credentials = createChannelCredentials(options.credentials);
  const client = new openoffloadV1.SessionTableClient(options.address ?? DEFAULT_SESSIONS_ADDRESS, credentials, {
    "grpc.initial_reconnect_backoff_ms": Math.max(policy.initialBackoffMs, 20),
    "grpc.max_reconnect_backoff_ms": Math.max(policy.maxBackoffMs, 20),
    ...(options.serverName === undefined ? {} : { "grpc.ssl_target_name_override": options.serverName }),
    ...options.channelOptions,
  });
  let closed = false;

  function context(method: string, call: CallOptions, retryable: boolean): RetryContext {
    if (closed) throw new OffloadError(status.FAILED_PRECONDITION, "the client is closed", { method });
    return {
      method,
      policy,
      retryable,
      deadlineMs: resolveDeadline(call, defaultTimeoutMs, now()),
      signal: call.signal,
      random,
      now,
      logger: options.logger,
      onRetry: options.onRetry,
    };
  }

  async function sendBatch(
    requests: readonly openoffloadV1.sessionRequest[],
    call: CallOptions,
  ): Promise<OpenOffloadAddResult[]> {
    const ctx = context("addSession", call, true);
    const { response, attempts } = await invokeUnary<openoffloadV1.addSessionResponse>(ctx, (md, opts, cb) => {
      const stream = client.addSession(md, opts, (err, value) =>
        cb(err, value ?? openoffloadV1.addSessionResponse.create()),
      );
      for (const request of requests) stream.write(request);
      stream.end();
      return stream as unknown as ClientUnaryCall;
    });
    return batchResultsFromWire(
      requests.map((r) => r.sessionId),
      response,
      attempts,
    );
  }

  async function addSessions(
    inputs: Iterable<OpenOffloadSessionInput>,
    call: CallOptions = {},
  ): Promise<OpenOffloadAddResult[]> {
    const requests: openoffloadV1.sessionRequest[] = [];
    let index = 0;
    for (const input of inputs) {
      try {
        requests.push(toOpenOffloadRequest(input));
      } catch (err) {
        if (err instanceof ValidationError) throw new ValidationError(`[${index}].${err.field}`, err.reason);
        throw err;
      }
      index += 1;
    }
    const results: OpenOffloadAddResult[] = [];
    for (let i = 0; i < requests.length; i += batchSize) {
      results.push(...(await sendBatch(requests.slice(i, i + batchSize), call)));
    }
    return results;
  }

  async function lookup(method: "getSession" | "deleteSession", id: bigint, call: CallOptions): Promise<SessionLookup> {
    const request = { sessionId: checkId(id) };
    const ctx = context(method, call, method === "getSession" || policy.retryDelete);
    try {
      const { response } = await invokeUnary<openoffloadV1.sessionResponse>(ctx, (md, opts, cb) =>
        method === "getSession"
          ? client.getSession(request, md, opts, cb)
          : client.deleteSession(request, md, opts, cb),
      );
      return { kind: "found", session: convert(method, response) };
    } catch (err) {
      if (err instanceof OffloadError && err.code === status.NOT_FOUND) return { kind: "notFound" };
      throw err;
    }
  }

  function convert(method: string, response: openoffloadV1.sessionResponse): Session {
    try {
      return openOffloadSessionFromWire(response);
    } catch (err) {
      throw new OffloadError(status.INTERNAL, (err as Error).message, { cause: err, method });
    }
  }

  async function* pages(call: PageOptions): AsyncGenerator<Session, void, undefined> {
    const pageSize = checkInteger("pageSize", call.pageSize ?? DEFAULT_OPENOFFLOAD_PAGE, 1, 65536);
    let start = call.afterId === undefined ? FROM_BEGINNING : checkId(call.afterId);
    for (;;) {
      const request = openoffloadV1.sessionRequestArgs.fromPartial({ pageSize, startSession: start });
      const ctx = context("getAllSessions", call, true);
      const { response } = await invokeUnary<openoffloadV1.sessionResponses>(ctx, (md, opts, cb) =>
        client.getAllSessions(request, md, opts, cb),
      );
      const page = response.sessionInfo;
      if (page.length === 0) return;
      if (page.length > pageSize) {
        throw new OffloadError(
          status.INTERNAL,
          `the server answered ${page.length} sessions for a page of ${pageSize}`,
          {
            method: "getAllSessions",
          },
        );
      }
      for (const message of page) yield convert("getAllSessions", message);
      const last = page[page.length - 1]?.sessionId ?? 0n;
      if (last === FROM_BEGINNING || last <= (start === FROM_BEGINNING ? 0n : start)) return;
      start = last;
    }
  }

  async function* closedSessions(call: ClosedOptions): AsyncGenerator<Session, void, undefined> {
    const request = openoffloadV1.sessionRequestArgs.fromPartial({
      pageSize: checkInteger("pageSize", call.pageSize ?? DEFAULT_OPENOFFLOAD_PAGE, 1, 0xffff_ffff),
    });
    try {
      yield* streamCall(
        () => context("getClosedSessions", call, true),
        (opts) => client.getClosedSessions(request, opts),
        (message: openoffloadV1.sessionResponse) => convert("getClosedSessions", message),
      );
    } catch (err) {
      if ((err instanceof OffloadError || isServiceError(err)) && err.code === status.NOT_FOUND) return;
      throw err;
    }
  }

  return {
    addSessions,
    getSession: (id, call = {}) => lookup("getSession", id, call),
    deleteSession: (id, call = {}) => lookup("deleteSession", id, call),
    getAllSessions: (call = {}) => ({ [Symbol.asyncIterator]: () => pages(call) }),
    getClosedSessions: (call = {}) => ({ [Symbol.asyncIterator]: () => closedSessions(call) }),
    close() {
      if (closed) return;
      closed = true;
      client.close();
    },
  };
}

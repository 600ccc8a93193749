import {
  status,
  type sendUnaryData,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
} from "@grpc/grpc-js";
import { backendErrorToStatus, batchReaderOf, createStreamGate } from "@sessionoffload/server-transport";
import {
  ValidationError,
  createLogThrottle,
  createSilentLogger,
  createSystemClock,
  isLevelEnabled,
  openOffloadSessionToWire,
  openoffloadV1,
  validateOpenOffloadRequest,
  type Clock,
  type Logger,
  type Session,
} from "@sessionoffload/offload-api";
import type { AddResult, SwitchBackend } from "@sessionoffload/switch-backend";
import { DEFAULT_CLOSED_BATCH_SIZE, deliverClosedSessions, isThenable } from "@sessionoffload/switch-backend/kit";
import { createBatchOutcome, type BatchOutcome } from "./openoffload-batch";

/** Options of `createOpenOffloadHandlers`. */
export interface OpenOffloadHandlersOptions {
  /** The switch the sessions go to (shared with the first generation's handlers, if any). */
  readonly backend: SwitchBackend;
  /** Backend failures at error level with their cause; with debug enabled (checked once, here), one line per call. Default: silent. */
  readonly logger?: Logger;
  /** Times the debug lines (`ms`) and stamps `addSessionResponse.startTime`; default the system clock. */
  readonly clock?: Clock;
  /** Most sessions one addSession stream may carry; default 4096, 1..1,048,576. The reference client sends 64. */
  readonly maxBatchSize?: number;
  /** Largest getAllSessions page; default 1024, 64..65536. A pageSize of 0 asks for 64. */
  readonly maxPageSize?: number;
  /** How many closed sessions getClosedSessions leases at a time; default 256, 1..65536. */
  readonly closedBatchSize?: number;
  /**
   * What getClosedSessions answers when there is no closed session: "emptyStream"
   * (default: status OK, no message) or "notFound" (status NOT_FOUND "No Closed
   * Sessions", as the OpenOffload reference server library does).
   */
  readonly noClosedSessions?: "emptyStream" | "notFound";
  /** Server shutdown: getClosedSessions stops at its next message, settles what it delivered and ends OK. */
  readonly signal?: AbortSignal;
}

/** A getAllSessions pageSize of 0 asks for this many: the reference client's arrays hold 64. */
export const DEFAULT_OPENOFFLOAD_PAGE_SIZE = 64;
/** startSession value the reference client starts paging with: "from the beginning". */
export const OPENOFFLOAD_START_FROM_BEGINNING = 4_294_967_295n;

type Method = "addSession" | "getSession" | "deleteSession" | "getAllSessions" | "getClosedSessions";
type SessionCallback = sendUnaryData<openoffloadV1.sessionResponse>;
type ClosedCall = ServerWritableStream<openoffloadV1.sessionRequestArgs, openoffloadV1.sessionResponse>;

const { REQUEST_STATUS } = openoffloadV1;

function checkRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name}: must be an integer in ${min}..${max}, got ${value}`);
  }
  return value;
}

/** Reads up to `size` sessions from a sync or async iterable, and closes it. */
async function readPage(source: AsyncIterable<Session> | Iterable<Session>, size: number): Promise<Session[]> {
  const page: Session[] = [];
  if (Symbol.iterator in source) {
    for (const session of source) {
      page.push(session);
      if (page.length >= size) break;
    }
    return page;
  }
  for await (const session of source) {
    page.push(session);
    if (page.length >= size) break;
  }
  return page;
}

/**
 * The `openoffload.v1.SessionTable` handlers (the second generation of the
 * API) over a SwitchBackend, for
 * `server.addService(openoffloadV1.SessionTableService, handlers)`; they may
 * share the backend with the first generation's handlers: one table, one id
 * space (see docs/OPENOFFLOAD.md).
 *
 * - addSession (client streaming) validates and adds each session as it
 *   arrives, with the client's id, and answers OK when the client
 *   half-closes: one `responseError` per failed session in stream order
 *   (`errorStatus` 3 INVALID_ARGUMENT, 6 ALREADY_EXISTS for an id or live
 *   7-tuple in the table, 8 RESOURCE_EXHAUSTED for a full table, 14/13 for a
 *   switch failure), the bitmask of failed positions (first 64) and a
 *   summary. A batch is never refused whole. More than `maxBatchSize`
 *   sessions end the call RESOURCE_EXHAUSTED.
 * - getSession / deleteSession: NOT_FOUND for an id not in the table,
 *   INVALID_ARGUMENT for id 0; delete answers the final counters.
 * - getAllSessions: one page in id order after `startSession` (exclusive;
 *   0 or 4294967295 from the beginning), at most `pageSize` (0: 64), and
 *   `nextkey` = the page's last id (0 for an empty page).
 * - getClosedSessions: at most `pageSize` (0: 64) closed sessions, each
 *   exactly once (delivered = handed to HTTP/2), removed from the table.
 */
export function createOpenOffloadHandlers(options: OpenOffloadHandlersOptions): openoffloadV1.SessionTableServer {
  const { backend, signal } = options;
  const logger = options.logger ?? createSilentLogger();
  const clock = options.clock ?? createSystemClock();
  const debug = isLevelEnabled(logger, "debug");
  const maxBatchSize = checkRange("maxBatchSize", options.maxBatchSize ?? 4096, 1, 1_048_576);
  const maxPageSize = checkRange("maxPageSize", options.maxPageSize ?? 1024, DEFAULT_OPENOFFLOAD_PAGE_SIZE, 65536);
  const closedBatchSize = checkRange("closedBatchSize", options.closedBatchSize ?? DEFAULT_CLOSED_BATCH_SIZE, 1, 65536);
  const notFoundWhenEmpty = (options.noClosedSessions ?? "emptyStream") === "notFound";

  // Throttled (the first at once, then one summary per 10 s, then a line when it is over), as sessions.v1's.
  const failures = createLogThrottle({
    logger,
    clock,
    level: "error",
    message: "backend failure",
    endMessage: "backend answering again",
  });
  const tableFull = createLogThrottle({
    logger,
    clock,
    message: "table full: adds refused",
    endMessage: "table has room again",
  });

  const cancellations = createLogThrottle({ logger, clock, message: "stream cancelled by the client" });

  function failure(method: Method, err: unknown): { code: status; details: string } {
    if (err instanceof ValidationError) return { code: status.INVALID_ARGUMENT, details: err.message };
    const answer = backendErrorToStatus(err);
    failures.hit({ err, method, code: status[answer.code] });
    return answer;
  }

  // One readable line per request: ids as strings, status codes by name.
  function traceLine(method: Method, start: bigint, fields: Record<string, unknown>): void {
    logger.debug({ method, ...fields, ms: Number(clock.now() - start) / 1e6 }, "request");
  }

  function decided(outcome: BatchOutcome, position: number, id: bigint, result: AddResult): void {
    if (result.kind === "alreadyExists") outcome.fail(position, id, status.ALREADY_EXISTS);
    else if (result.kind === "tableFull") {
      tableFull.hit({ generation: "openoffload.v1" });
      outcome.fail(position, id, status.RESOURCE_EXHAUSTED);
    } else tableFull.end();
  }

  function addSession(
    call: ServerReadableStream<openoffloadV1.sessionRequest, openoffloadV1.addSessionResponse>,
    callback: sendUnaryData<openoffloadV1.addSessionResponse>,
  ): void {
    const start = clock.now();
    const outcome = createBatchOutcome();
    let position = 0;
    let pending: Promise<void>[] | undefined;
    let finished = false;
    const finish = (err: { code: status; details: string } | null, value?: openoffloadV1.addSessionResponse) => {
      if (finished) return;
      finished = true;
      if (debug) {
        traceLine("addSession", start, { sessions: position, failed: outcome.failures, code: status[err?.code ?? 0] });
      }
      if (err !== null) callback(err);
      else callback(null, value);
    };
    const addOne = (request: openoffloadV1.sessionRequest): void => {
      if (finished) return;
      const at = position++;
      if (at >= maxBatchSize) {
        finish({
          code: status.RESOURCE_EXHAUSTED,
          details: `more than ${maxBatchSize} sessions in one addSession stream: the first ${maxBatchSize} were decided, the rest ignored`,
        });
        return;
      }
      const id = request.sessionId;
      let result: AddResult | PromiseLike<AddResult>;
      try {
        const checked = validateOpenOffloadRequest(request);
        result = backend.add(checked.spec, { id: checked.id });
      } catch (err) {
        if (debug && err instanceof ValidationError)
          logger.debug({ method: "addSession", id: String(id), position: at, err: err.message }, "malformed session");
        outcome.fail(at, id, failure("addSession", err).code);
        return;
      }
      if (isThenable(result)) {
        (pending ??= []).push(
          Promise.resolve(result).then(
            (value) => decided(outcome, at, id, value),
            (err: unknown) => outcome.fail(at, id, failure("addSession", err).code),
          ),
        );
      } else {
        decided(outcome, at, id, result);
      }
    };
    const end = (): void => {
      if (finished) return;
      if (pending === undefined) finish(null, outcome.answer(start));
      else void Promise.all(pending).then(() => finish(null, outcome.answer(start)));
    };
    // The native transport hands the requests over a DATA frame at a time (no Readable event per session).
    const reader = batchReaderOf(call);
    if (reader !== undefined) {
      reader.readBatches((requests) => {
        for (const request of requests) addOne(request);
      }, end);
    } else {
      call.on("data", addOne);
      call.on("end", end);
    }
    // The client went away: what was added stays added; there is no one to answer.
    call.on("error", () => {
      finished = true;
    });
  }

  // getSession and deleteSession: an id in 1..2^64-1, NOT_FOUND when it is not in the table.
  function lookup(
    method: "getSession" | "deleteSession",
    call: ServerUnaryCall<openoffloadV1.sessionId, openoffloadV1.sessionResponse>,
    done: SessionCallback,
    run: (id: bigint) => Session | undefined | PromiseLike<Session | undefined>,
  ): void {
    const start = debug ? clock.now() : 0n;
    const id = call.request.sessionId;
    const callback: SessionCallback = debug
      ? (err, value) => {
          traceLine(method, start, { sessionId: String(id), code: status[err?.code ?? 0] });
          done(err, value);
        }
      : done;
    if (id === 0n) {
      callback({ code: status.INVALID_ARGUMENT, details: "sessionId: must be in 1..2^64-1, got 0" });
      return;
    }
    const answer = (session: Session | undefined): void => {
      if (session === undefined) callback({ code: status.NOT_FOUND, details: `session ${id} is not in the table` });
      else callback(null, openOffloadSessionToWire(session, REQUEST_STATUS._ACCEPTED));
    };
    let result: Session | undefined | PromiseLike<Session | undefined>;
    try {
      result = run(id);
    } catch (err) {
      callback(failure(method, err));
      return;
    }
    if (isThenable(result)) {
      result.then(
        (session) => {
          failures.end();
          answer(session);
        },
        (err: unknown) => callback(failure(method, err)),
      );
    } else {
      failures.end();
      answer(result);
    }
  }

  function getAllSessions(
    call: ServerUnaryCall<openoffloadV1.sessionRequestArgs, openoffloadV1.sessionResponses>,
    callback: sendUnaryData<openoffloadV1.sessionResponses>,
  ): void {
    const start = debug ? clock.now() : 0n;
    const { pageSize, startSession } = call.request;
    const size = pageSize === 0 ? DEFAULT_OPENOFFLOAD_PAGE_SIZE : Math.min(pageSize, maxPageSize);
    const from =
      startSession === 0n || startSession === OPENOFFLOAD_START_FROM_BEGINNING ? {} : { afterId: startSession };
    let source: AsyncIterable<Session> | Iterable<Session>;
    try {
      source = backend.sessions(from);
    } catch (err) {
      callback(failure("getAllSessions", err));
      return;
    }
    readPage(source, size).then(
      (page) => {
        if (debug)
          traceLine("getAllSessions", start, { pageSize, startSession: String(startSession), count: page.length });
        callback(null, {
          sessionInfo: page.map((s) => openOffloadSessionToWire(s, REQUEST_STATUS._ACCEPTED)),
          nextkey: page[page.length - 1]?.id ?? 0n,
        });
      },
      (err: unknown) => callback(failure("getAllSessions", err)),
    );
  }

  async function getClosedSessions(call: ClosedCall): Promise<void> {
    const start = debug ? clock.now() : 0n;
    const gate = createStreamGate(call, signal);
    const pageSize = call.request.pageSize;
    let count = 0;
    try {
      count = await deliverClosedSessions(gate, {
        backend,
        max: pageSize === 0 ? DEFAULT_OPENOFFLOAD_PAGE_SIZE : pageSize,
        batchSize: closedBatchSize,
        toWire: (session) => openOffloadSessionToWire(session, REQUEST_STATUS._ACCEPTED),
      });
      if (gate.stopped === "cancelled") {
        cancellations.hit({ method: "getClosedSessions", sent: count, peer: call.getPeer() });
        return;
      }
      if (count === 0 && notFoundWhenEmpty && gate.stopped === undefined) {
        call.emit("error", { code: status.NOT_FOUND, details: "No Closed Sessions" });
      } else {
        call.end();
      }
    } catch (err) {
      call.emit("error", failure("getClosedSessions", err));
    } finally {
      gate.dispose();
      if (debug) traceLine("getClosedSessions", start, { pageSize, count, stopped: gate.stopped });
    }
  }

  return {
    addSession,
    getSession: (call, callback) => lookup("getSession", call, callback, (id) => backend.get(id)),
    deleteSession: (call, callback) => lookup("deleteSession", call, callback, (id) => backend.delete(id)),
    getAllSessions,
    getClosedSessions,
  };
}

import { status, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import { backendErrorToStatus } from "@sessionoffload/server-transport";
import {
  ValidationError,
  createLogThrottle,
  createSilentLogger,
  createSystemClock,
  isLevelEnabled,
  sessionToWire,
  sessionsV1,
  statusToWire,
  validateSessionRequest,
  type Clock,
  type Logger,
  type Session,
} from "@sessionoffload/offload-api";
import type { AddResult, SwitchBackend } from "@sessionoffload/switch-backend";
import { isThenable } from "@sessionoffload/switch-backend/kit";
import { describeAddRequest, describeResponse } from "./request-log";

/** Options of `createSessionTableHandlers`. */
export interface SessionTableHandlersOptions {
  /** The switch the sessions go to. */
  readonly backend: SwitchBackend;
  /**
   * At error, backend failures with their cause; at info, adds refused for a
   * full table; both throttled (the first at once, then at most one summary
   * line per 10 s, and a line when it is over). With debug enabled (checked
   * once, here), one readable line per request. Default: silent.
   */
  readonly logger?: Logger;
  /** Times the debug request lines (`ms`) and the throttled lines; default the system clock. */
  readonly clock?: Clock;
}

type Method = "addSession" | "getSession" | "deleteSession";
type Callback = sendUnaryData<sessionsV1.sessionResponse>;

const { REQUEST_STATUS } = sessionsV1;
// Answers that carry no session: built once, never mutated.
const TABLE_FULL = Object.freeze(statusToWire(REQUEST_STATUS._REJECTED_SESSION_TABLE_FULL));
const NONEXISTENT = Object.freeze(statusToWire(REQUEST_STATUS._REJECTED_SESSION_NONEXISTENT));

function addResultToWire(result: AddResult): sessionsV1.sessionResponse {
  switch (result.kind) {
    case "accepted":
      return sessionToWire(result.session, REQUEST_STATUS._ACCEPTED);
    case "alreadyExists":
      return statusToWire(REQUEST_STATUS._REJECTED_SESSION_ALREADY_EXISTS, result.id);
    case "tableFull":
      return TABLE_FULL;
  }
}

function lookupToWire(session: Session | undefined): sessionsV1.sessionResponse {
  return session === undefined ? NONEXISTENT : sessionToWire(session, REQUEST_STATUS._ACCEPTED);
}

/**
 * The `sessions.v1.SessionTable` handlers over a SwitchBackend, for
 * `server.addService(sessionsV1.SessionTableService, handlers)`.
 *
 * addSession validates with `validateSessionRequest` (INVALID_ARGUMENT naming
 * the field and the reason; nothing reaches the backend); duplicates, a full
 * table and unknown ids are answered as data with status OK. A backend that
 * throws or rejects is answered UNAVAILABLE or INTERNAL with a short message
 * (see `backendErrorToStatus`); the cause is logged, never sent. A backend
 * that answers synchronously is never awaited.
 */
export function createSessionTableHandlers(options: SessionTableHandlersOptions): sessionsV1.SessionTableServer {
  const { backend } = options;
  const logger = options.logger ?? createSilentLogger();
  const clock = options.clock ?? createSystemClock();
  const debug = isLevelEnabled(logger, "debug");
  const failureLog = () =>
    createLogThrottle({
      logger,
      clock,
      level: "error",
      message: "backend failure",
      endMessage: "backend answering again",
    });
  const failures = {
    addSession: failureLog(),
    getSession: failureLog(),
    deleteSession: failureLog(),
  };
  const tableFull = createLogThrottle({
    logger,
    clock,
    message: "table full: adds refused",
    endMessage: "table has room again",
  });

  function fail(method: Method, err: unknown, callback: Callback): void {
    const answer = backendErrorToStatus(err);
    failures[method].hit({ err, method, code: status[answer.code] });
    callback({ code: answer.code, details: answer.details });
  }

  function addAnswer(result: AddResult): sessionsV1.sessionResponse {
    if (result.kind === "tableFull") tableFull.hit();
    else if (result.kind === "accepted") tableFull.end();
    return addResultToWire(result);
  }

  // Answers a backend result that may be a promise; `toWire` must not throw.
  function answer<T>(
    method: Method,
    result: T | PromiseLike<T>,
    toWire: (value: T) => sessionsV1.sessionResponse,
    callback: Callback,
  ): void {
    if (isThenable(result)) {
      result.then(
        (value) => {
          failures[method].end();
          callback(null, toWire(value));
        },
        (err: unknown) => fail(method, err, callback),
      );
    } else {
      failures[method].end();
      callback(null, toWire(result));
    }
  }

  // Wraps a callback with a debug request line; only used when debug is enabled.
  function traced(method: Method, request: Record<string, unknown>, callback: Callback): Callback {
    const start = clock.now();
    return (err, value) => {
      const ms = Number(clock.now() - start) / 1e6;
      if (err) {
        const code = status[err.code ?? status.UNKNOWN];
        logger.debug({ method, request, code, details: err.details, ms }, "request");
      } else logger.debug({ method, request, ...(value && describeResponse(value)), ms }, "request");
      callback(err, value);
    };
  }

  function addSession(call: ServerUnaryCall<sessionsV1.sessionRequest, sessionsV1.sessionResponse>, done: Callback) {
    const callback = debug ? traced("addSession", describeAddRequest(call.request), done) : done;
    let result: AddResult | PromiseLike<AddResult>;
    try {
      const spec = validateSessionRequest(call.request);
      result = backend.add(spec);
    } catch (err) {
      if (err instanceof ValidationError) callback({ code: status.INVALID_ARGUMENT, details: err.message });
      else fail("addSession", err, callback);
      return;
    }
    answer("addSession", result, addAnswer, callback);
  }

  function getSession(call: ServerUnaryCall<sessionsV1.sessionId, sessionsV1.sessionResponse>, done: Callback) {
    const callback = debug ? traced("getSession", { sessionId: String(call.request.sessionId) }, done) : done;
    let result: Session | undefined | PromiseLike<Session | undefined>;
    try {
      result = backend.get(call.request.sessionId);
    } catch (err) {
      fail("getSession", err, callback);
      return;
    }
    answer("getSession", result, lookupToWire, callback);
  }

  function deleteSession(call: ServerUnaryCall<sessionsV1.sessionId, sessionsV1.sessionResponse>, done: Callback) {
    const callback = debug ? traced("deleteSession", { sessionId: String(call.request.sessionId) }, done) : done;
    let result: Session | undefined | PromiseLike<Session | undefined>;
    try {
      result = backend.delete(call.request.sessionId);
    } catch (err) {
      fail("deleteSession", err, callback);
      return;
    }
    answer("deleteSession", result, lookupToWire, callback);
  }

  return { addSession, getSession, deleteSession };
}

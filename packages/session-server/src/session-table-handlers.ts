import { status, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import { backendErrorToStatus } from "@sessionoffload/server-transport";
import {
  ValidationError,
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

/** Options of `createSessionTableHandlers`. */
export interface SessionTableHandlersOptions {
  /** The switch the sessions go to. */
  readonly backend: SwitchBackend;
  /**
   * Backend failures are logged at error level with their cause; with debug
   * enabled (checked once, here), one line per request. Default: silent.
   */
  readonly logger?: Logger;
  /** Times the debug request lines (`ms`); default the system clock. */
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

// Loggable fields of an addSession request (addresses as hex: they may be malformed).
function describeAddRequest(request: sessionsV1.sessionRequest): Record<string, unknown> {
  return {
    inLif: request.inLif,
    outLif: request.outLif,
    ipVersion: request.ipVersion,
    sourceIp: Buffer.from(request.sourceIp).toString("hex"),
    sourcePort: request.sourcePort,
    destinationIp: Buffer.from(request.destinationIp).toString("hex"),
    destinationPort: request.destinationPort,
    protocolId: request.protocolId,
    actionType: request.action?.actionType,
    actionNextHop: request.action?.actionNextHop,
  };
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

  function fail(method: Method, err: unknown, callback: Callback): void {
    const answer = backendErrorToStatus(err);
    logger.error({ err, method, code: status[answer.code] }, "backend failure");
    callback({ code: answer.code, details: answer.details });
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
        (value) => callback(null, toWire(value)),
        (err: unknown) => fail(method, err, callback),
      );
    } else {
      callback(null, toWire(result));
    }
  }

  // Wraps a callback with a debug request line; only used when debug is enabled.
  function traced(method: Method, request: Record<string, unknown>, callback: Callback): Callback {
    const start = clock.now();
    return (err, value) => {
      const ms = Number(clock.now() - start) / 1e6;
      if (err) logger.debug({ method, request, code: err.code ?? status.UNKNOWN, details: err.details, ms }, "request");
      else
        logger.debug(
          { method, request, requestStatus: value?.requestStatus, sessionId: value?.sessionId, ms },
          "request",
        );
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
    answer("addSession", result, addResultToWire, callback);
  }

  function getSession(call: ServerUnaryCall<sessionsV1.sessionId, sessionsV1.sessionResponse>, done: Callback) {
    const callback = debug ? traced("getSession", { sessionId: call.request.sessionId }, done) : done;
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
    const callback = debug ? traced("deleteSession", { sessionId: call.request.sessionId }, done) : done;
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

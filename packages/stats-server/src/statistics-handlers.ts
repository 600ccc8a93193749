import { status, type ServerWritableStream } from "@grpc/grpc-js";
import { backendErrorToStatus, createStreamGate, type StreamGate } from "@sessionoffload/server-transport";
import {
  createLogThrottle,
  createSilentLogger,
  createSystemClock,
  isLevelEnabled,
  sessionToWire,
  sessionsV1,
  type Clock,
  type Logger,
  type Session,
} from "@sessionoffload/offload-api";
import type { SwitchBackend } from "@sessionoffload/switch-backend";
import { DEFAULT_CLOSED_BATCH_SIZE, deliverClosedSessions, isThenable } from "@sessionoffload/switch-backend/kit";

/** The two streaming methods of `sessions.v1.SessionStatisticsTable`. */
export type StatisticsMethod = "getAllSessions" | "getClosedSessions";

/** Observers of streaming progress (tests, metrics); each is called synchronously. */
export interface StatisticsStreamHooks {
  /** After each message is handed to the stream with `call.write`. */
  readonly onWrite?: (method: StatisticsMethod, session: Session) => void;
  /**
   * After getClosedSessions settles a lease: `deliveredIds` left the table,
   * the other `offered - deliveredIds.length` sessions stay for a later call.
   */
  readonly onSettle?: (deliveredIds: readonly bigint[], offered: number) => void;
  /**
   * When a call's handler is done: `count` messages written (getAllSessions)
   * or delivered (getClosedSessions); `outcome` "ok", "cancelled" (the client
   * went away), "shutdown" or "failed".
   */
  readonly onEnd?: (method: StatisticsMethod, count: number, outcome: StreamOutcome) => void;
}

/** How a streaming call ended, as `StatisticsStreamHooks.onEnd` reports it. */
export type StreamOutcome = "ok" | "cancelled" | "shutdown" | "failed";

/** Options of `createSessionStatisticsHandlers`. */
export interface SessionStatisticsHandlersOptions {
  /** The switch whose table is streamed. */
  readonly backend: SwitchBackend;
  /**
   * At error, backend failures with their cause; at info, streams the client
   * cancelled; both throttled (the first at once, then at most one summary
   * line per 10 s). With debug enabled (checked once, here), one line per call.
   */
  readonly logger?: Logger;
  /** Times the debug lines (`ms`) and the throttled lines; default the system clock. */
  readonly clock?: Clock;
  /** How many closed sessions getClosedSessions leases at a time; default 256, 1..65536. */
  readonly closedBatchSize?: number;
  /** Streaming progress observers. */
  readonly hooks?: StatisticsStreamHooks;
  /**
   * Server shutdown: when it aborts, streams stop at their next message.
   * getClosedSessions settles what it delivered and ends OK (the rest stay);
   * getAllSessions ends UNAVAILABLE, since its listing is incomplete.
   */
  readonly signal?: AbortSignal;
}

type Call = ServerWritableStream<sessionsV1.statisticsRequestArgs, sessionsV1.sessionResponse>;

const { REQUEST_STATUS } = sessionsV1;

// Ends the call with a status other than OK.
function endWithStatus(call: Call, code: status, details: string): void {
  call.emit("error", { code, details });
}

/**
 * The `sessions.v1.SessionStatisticsTable` handlers over a SwitchBackend, for
 * `server.addService(sessionsV1.SessionStatisticsTableService, handlers)`.
 *
 * getAllSessions streams `backend.sessions()` lazily in id order; pageSize > 0
 * caps the count. getClosedSessions leases closed sessions in batches and
 * settles each lease with exactly the sessions the transport took (their
 * write callback fired), also when the client cancels or goes away: the rest
 * stay for the next call, none is delivered twice. Both wait for 'drain'
 * when the stream's buffer is full, so a slow reader holds the server to a
 * bounded number of messages. Backend failures end the stream UNAVAILABLE or
 * INTERNAL with a short message; the cause is logged.
 */
export function createSessionStatisticsHandlers(
  options: SessionStatisticsHandlersOptions,
): sessionsV1.SessionStatisticsTableServer {
  const { backend, signal } = options;
  const logger = options.logger ?? createSilentLogger();
  const clock = options.clock ?? createSystemClock();
  const debug = isLevelEnabled(logger, "debug");
  const onWrite = options.hooks?.onWrite;
  const onSettle = options.hooks?.onSettle;
  const onEnd = options.hooks?.onEnd;
  const batchSize = options.closedBatchSize ?? DEFAULT_CLOSED_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 65536) {
    throw new RangeError(`closedBatchSize: must be an integer in 1..65536, got ${batchSize}`);
  }

  const throttles = (level: "info" | "error", message: string, endMessage?: string) => ({
    getAllSessions: createLogThrottle({ logger, clock, level, message, endMessage }),
    getClosedSessions: createLogThrottle({ logger, clock, level, message, endMessage }),
  });
  const failures = throttles("error", "backend failure", "backend answering again");
  const cancellations = throttles("info", "stream cancelled by the client");

  function fail(method: StatisticsMethod, call: Call, err: unknown): void {
    const answer = backendErrorToStatus(err);
    failures[method].hit({ err, method, code: status[answer.code] });
    endWithStatus(call, answer.code, answer.details);
  }

  function finish(method: StatisticsMethod, call: Call, start: bigint, count: number, outcome: StreamOutcome): void {
    if (debug) {
      const ms = Number(clock.now() - start) / 1e6;
      logger.debug({ method, pageSize: call.request.pageSize, count, outcome, ms }, "request");
    }
    if (outcome === "cancelled") cancellations[method].hit({ method, sent: count, peer: call.getPeer() });
    else if (outcome !== "failed") failures[method].end();
    onEnd?.(method, count, outcome);
  }

  async function streamAll(call: Call, gate: StreamGate): Promise<number> {
    const limit = call.request.pageSize > 0 ? call.request.pageSize : Infinity;
    const source = backend.sessions();
    const iterator: Iterator<Session> | AsyncIterator<Session> =
      Symbol.iterator in source ? source[Symbol.iterator]() : source[Symbol.asyncIterator]();
    let count = 0;
    let exhausted = false;
    try {
      while (count < limit && gate.stopped === undefined) {
        const step = iterator.next();
        const result = isThenable(step) ? await step : step;
        if (result.done) {
          exhausted = true;
          break;
        }
        const session = result.value;
        const writable = call.write(sessionToWire(session, REQUEST_STATUS._ACCEPTED));
        count += 1;
        onWrite?.("getAllSessions", session);
        if (!writable) await gate.waitDrain();
      }
    } finally {
      if (!exhausted && iterator.return) {
        const closing = iterator.return();
        if (isThenable(closing)) await closing;
      }
    }
    return count;
  }

  async function getAllSessions(call: Call): Promise<void> {
    const start = debug ? clock.now() : 0n;
    const gate = createStreamGate(call, signal);
    let count = 0;
    try {
      count = await streamAll(call, gate);
      const outcome = gate.stopped ?? "ok";
      if (outcome === "shutdown") endWithStatus(call, status.UNAVAILABLE, "server is shutting down");
      else if (outcome === "ok") call.end();
      finish("getAllSessions", call, start, count, outcome);
    } catch (err) {
      fail("getAllSessions", call, err);
      finish("getAllSessions", call, start, count, "failed");
    } finally {
      gate.dispose();
    }
  }

  async function getClosedSessions(call: Call): Promise<void> {
    const start = debug ? clock.now() : 0n;
    const gate = createStreamGate(call, signal);
    let count = 0;
    try {
      count = await deliverClosedSessions(gate, {
        backend,
        max: call.request.pageSize > 0 ? call.request.pageSize : Infinity,
        batchSize,
        toWire: (session) => sessionToWire(session, REQUEST_STATUS._ACCEPTED),
        onWrite: onWrite === undefined ? undefined : (session) => onWrite("getClosedSessions", session),
        onSettle,
      });
      const outcome = gate.stopped ?? "ok";
      if (outcome !== "cancelled") call.end();
      finish("getClosedSessions", call, start, count, outcome);
    } catch (err) {
      fail("getClosedSessions", call, err);
      finish("getClosedSessions", call, start, count, "failed");
    } finally {
      gate.dispose();
    }
  }

  return { getAllSessions, getClosedSessions };
}

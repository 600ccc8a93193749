import { ValidationError, type CloseCode, type Session } from "@sessionoffload/offload-api";
import { isThenable } from "@sessionoffload/switch-backend/kit";
import type { AddResult, ClosedLease, MaybePromise, SwitchBackend } from "@sessionoffload/switch-backend";
import type { ClosedCode, SwitchOperation, TableCounts } from "./table-metrics";

const CLOSED_CODE: Record<CloseCode, ClosedCode | undefined> = {
  notClosed: undefined,
  finAck: "fin_ack",
  rst: "rst",
  timeout: "timeout",
};

/**
 * Wraps a switch so that what passes through it is counted in `counts`: add
 * outcomes, sessions collected (by close code) or deleted, and every error
 * the switch throws or rejects with (malformed input, `ValidationError`, is
 * the caller's mistake and not counted). Answers exactly what the switch
 * answers, synchronously when it does; so both generations of the API are
 * counted without a change to their handlers. `stats` is passed on when the
 * switch has it.
 */
export function createObservedBackend(backend: SwitchBackend, counts: TableCounts): SwitchBackend {
  function failed(operation: SwitchOperation, err: unknown): never {
    if (!(err instanceof ValidationError)) counts.switchError(operation);
    throw err;
  }

  // Calls `fn` and maps its value with `map`, counting a throw or a rejection as an error of `operation`.
  function observe<T, U>(operation: SwitchOperation, fn: () => MaybePromise<T>, map: (value: T) => U): MaybePromise<U> {
    let result: MaybePromise<T>;
    try {
      result = fn();
    } catch (err) {
      return failed(operation, err);
    }
    if (isThenable(result)) return result.then(map, (err: unknown) => failed(operation, err));
    return map(result);
  }

  const same = <T>(value: T): T => value;

  function countAdd(result: AddResult): AddResult {
    if (result.kind === "accepted") counts.added();
    else counts.rejected(result.kind === "tableFull" ? "table_full" : "already_exists");
    return result;
  }

  function countDelete(session: Session | undefined): Session | undefined {
    if (session !== undefined) counts.closed("deleted");
    return session;
  }

  function observeLease(lease: ClosedLease): ClosedLease {
    return {
      sessions: lease.sessions,
      settle(deliveredIds) {
        return observe(
          "settle",
          () => lease.settle(deliveredIds),
          () => {
            if (deliveredIds.length === 0) return;
            const delivered = new Set(deliveredIds);
            for (const session of lease.sessions) {
              const code = CLOSED_CODE[session.closeCode];
              if (code !== undefined && delivered.has(session.id)) counts.closed(code);
            }
          },
        );
      },
    };
  }

  function* observeSync(source: Iterable<Session>): Generator<Session, void, undefined> {
    try {
      yield* source;
    } catch (err) {
      failed("sessions", err);
    }
  }

  async function* observeAsync(source: AsyncIterable<Session>): AsyncGenerator<Session, void, undefined> {
    try {
      yield* source;
    } catch (err) {
      failed("sessions", err);
    }
  }

  const addFailed = (err: unknown): never => failed("add", err);
  const getFailed = (err: unknown): never => failed("get", err);
  const deleteFailed = (err: unknown): never => failed("delete", err);

  // add, get and delete are the unary calls' hot path: written out, with no closure per call.
  const observed: SwitchBackend = {
    add(...args: Parameters<SwitchBackend["add"]>) {
      let result: MaybePromise<AddResult>;
      try {
        result = backend.add(...args);
      } catch (err) {
        return addFailed(err);
      }
      return isThenable(result) ? result.then(countAdd, addFailed) : countAdd(result);
    },
    get(id) {
      let result: MaybePromise<Session | undefined>;
      try {
        result = backend.get(id);
      } catch (err) {
        return getFailed(err);
      }
      return isThenable(result) ? result.then(same, getFailed) : result;
    },
    delete(id) {
      let result: MaybePromise<Session | undefined>;
      try {
        result = backend.delete(id);
      } catch (err) {
        return deleteFailed(err);
      }
      return isThenable(result) ? result.then(countDelete, deleteFailed) : countDelete(result);
    },
    sessions(options) {
      let source: AsyncIterable<Session> | Iterable<Session>;
      try {
        source = backend.sessions(options);
      } catch (err) {
        return failed("sessions", err);
      }
      return Symbol.iterator in source ? observeSync(source) : observeAsync(source);
    },
    takeClosed: (max) => observe("takeClosed", () => backend.takeClosed(max), observeLease),
    size: () => observe("size", () => backend.size(), same),
    close: () => backend.close(),
  };
  const stats = backend.stats;
  if (stats !== undefined) return { ...observed, stats: () => observe("stats", () => stats.call(backend), same) };
  return observed;
}

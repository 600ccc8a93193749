import { describe, expect, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { OffloadError, sessionsV1 } from "../src";
import { addResultFromWire, lookupFromWire } from "../src/client/response-mapping";

const { REQUEST_STATUS, SESSION_STATE, SESSION_CLOSE_CODE } = sessionsV1;

function response(partial: Partial<sessionsV1.sessionResponse>): sessionsV1.sessionResponse {
  return { ...sessionsV1.sessionResponse.fromPartial({}), ...partial };
}

function thrown(fn: () => unknown): OffloadError {
  try {
    fn();
  } catch (err) {
    if (err instanceof OffloadError) return err;
    throw err;
  }
  throw new Error("expected an OffloadError");
}

describe("addResultFromWire", () => {
  it("maps each contract status to its result kind", () => {
    const accepted = addResultFromWire(
      response({
        sessionId: 2n ** 63n + 1n,
        requestStatus: REQUEST_STATUS._ACCEPTED,
        startTime: { seconds: 5n, nanos: 7 },
      }),
      1,
    );
    expect(accepted).toMatchObject({
      kind: "accepted",
      id: 2n ** 63n + 1n,
      session: { state: "established", startTime: 5_000_000_007n },
    });
    expect(
      addResultFromWire(response({ sessionId: 9n, requestStatus: REQUEST_STATUS._REJECTED_SESSION_ALREADY_EXISTS }), 1),
    ).toEqual({
      kind: "alreadyExists",
      id: 9n,
      afterRetry: false,
    });
    expect(
      addResultFromWire(response({ sessionId: 9n, requestStatus: REQUEST_STATUS._REJECTED_SESSION_ALREADY_EXISTS }), 2),
    ).toEqual({
      kind: "alreadyExists",
      id: 9n,
      afterRetry: true,
    });
    expect(addResultFromWire(response({ requestStatus: REQUEST_STATUS._REJECTED_SESSION_TABLE_FULL }), 1)).toEqual({
      kind: "tableFull",
    });
  });

  it.each([
    [REQUEST_STATUS._REJECTED, /_REJECTED \(1\)/],
    [REQUEST_STATUS._REJECTED_SESSION_NONEXISTENT, /_REJECTED_SESSION_NONEXISTENT \(2\)/],
  ])("status %d outside the contract of addSession -> OffloadError UNKNOWN", (requestStatus, details) => {
    const err = thrown(() => addResultFromWire(response({ sessionId: 1n, requestStatus }), 1));
    expect(err.code).toBe(status.UNKNOWN);
    expect(err.details).toMatch(details);
  });

  it("an accepted id of 0 is a broken server: INTERNAL", () => {
    expect(thrown(() => addResultFromWire(response({ requestStatus: REQUEST_STATUS._ACCEPTED }), 1)).code).toBe(
      status.INTERNAL,
    );
  });
});

describe("lookupFromWire", () => {
  it("found with names for state and close code, notFound for NONEXISTENT", () => {
    const found = lookupFromWire(
      "getSession",
      response({
        sessionId: 4n,
        requestStatus: REQUEST_STATUS._ACCEPTED,
        sessionState: SESSION_STATE._CLOSED,
        sessionCloseCode: SESSION_CLOSE_CODE._TIMEOUT,
        inPackets: 2n ** 60n,
        endTime: { seconds: 10n, nanos: 0 },
      }),
    );
    expect(found).toMatchObject({
      kind: "found",
      session: { id: 4n, state: "closed", closeCode: "timeout", inPackets: 2n ** 60n, endTime: 10_000_000_000n },
    });
    expect(
      lookupFromWire("deleteSession", response({ requestStatus: REQUEST_STATUS._REJECTED_SESSION_NONEXISTENT })),
    ).toEqual({ kind: "notFound" });
  });

  it("TABLE_FULL on a lookup is outside the contract: UNKNOWN; an unknown state number: INTERNAL naming the field", () => {
    expect(
      thrown(() =>
        lookupFromWire("getSession", response({ requestStatus: REQUEST_STATUS._REJECTED_SESSION_TABLE_FULL })),
      ).code,
    ).toBe(status.UNKNOWN);
    const err = thrown(() =>
      lookupFromWire(
        "getSession",
        response({
          sessionId: 1n,
          requestStatus: REQUEST_STATUS._ACCEPTED,
          sessionState: 9 as sessionsV1.SESSION_STATE,
        }),
      ),
    );
    expect(err.code).toBe(status.INTERNAL);
    expect(err.details).toMatch(/^sessionState: unknown SESSION_STATE 9$/);
  });
});

import { describe, expect, it } from "@jest/globals";
import { Metadata, status } from "@grpc/grpc-js";
import { OffloadError, statusName } from "../src";
import { isServiceError, toOffloadError } from "../src/client/offload-error";

describe("OffloadError", () => {
  it("carries code, name, details, method, attempts and cause; the message says them", () => {
    const cause = new Error("socket closed");
    const err = new OffloadError(status.UNAVAILABLE, "connection refused", {
      cause,
      method: "addSession",
      attempts: 4,
    });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("OffloadError");
    expect(err.code).toBe(14);
    expect(err.codeName).toBe("UNAVAILABLE");
    expect(err.details).toBe("connection refused");
    expect(err.method).toBe("addSession");
    expect(err.attempts).toBe(4);
    expect(err.cause).toBe(cause);
    expect(err.message).toBe("addSession: UNAVAILABLE: connection refused (after 4 attempts)");
  });

  it("defaults: one attempt, no method in the message", () => {
    const err = new OffloadError(status.DEADLINE_EXCEEDED, "Deadline exceeded");
    expect(err.attempts).toBe(1);
    expect(err.message).toBe("DEADLINE_EXCEEDED: Deadline exceeded");
  });

  it.each([
    [0, "OK"],
    [3, "INVALID_ARGUMENT"],
    [16, "UNAUTHENTICATED"],
    [99, "STATUS_99"],
  ])("statusName(%d) = %s", (code, name) => {
    expect(statusName(code)).toBe(name);
  });
});

describe("toOffloadError", () => {
  it("maps a grpc-js ServiceError keeping code and details, and the error as cause", () => {
    const serviceError = Object.assign(new Error("3 INVALID_ARGUMENT: sourcePort: port 0 is outside 1..65535"), {
      code: status.INVALID_ARGUMENT,
      details: "sourcePort: port 0 is outside 1..65535",
      metadata: new Metadata(),
    });
    expect(isServiceError(serviceError)).toBe(true);
    const err = toOffloadError(serviceError, "addSession");
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toBe("sourcePort: port 0 is outside 1..65535");
    expect(err.cause).toBe(serviceError);
  });

  it("returns an OffloadError as it is, and wraps anything else as INTERNAL", () => {
    const own = new OffloadError(status.CANCELLED, "stop");
    expect(toOffloadError(own, "getSession")).toBe(own);
    const other = toOffloadError(new RangeError("sessionState: unknown SESSION_STATE 9"), "getSession");
    expect(other.code).toBe(status.INTERNAL);
    expect(other.details).toBe("sessionState: unknown SESSION_STATE 9");
    expect(isServiceError(new Error("plain"))).toBe(false);
  });
});

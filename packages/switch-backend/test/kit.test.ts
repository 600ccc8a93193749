import { describe, expect, it } from "@jest/globals";
import { isThenable } from "@sessionoffload/switch-backend/kit";

describe("switch kit", () => {
  it("isThenable tells promises from values", () => {
    expect(isThenable(Promise.resolve(1))).toBe(true);
    expect(isThenable({ then: () => undefined })).toBe(true);
    expect(isThenable({ kind: "accepted" })).toBe(false);
    expect(isThenable(undefined)).toBe(false);
    expect(isThenable(0)).toBe(false);
  });
});

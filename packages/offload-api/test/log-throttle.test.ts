import { describe, expect, it } from "@jest/globals";
import { createLogThrottle, type Clock } from "../src";
import { recordingLogger } from "../../../test/support/recording-logger";

function fakeClock(): Clock & { advance(ms: number): void } {
  let ns = 1_000_000_000n;
  return { now: () => ns, advance: (ms) => (ns += BigInt(ms) * 1_000_000n) };
}

describe("createLogThrottle", () => {
  it("logs the first occurrence at once, then one summary per interval, then a closing line", () => {
    const logger = recordingLogger();
    const clock = fakeClock();
    const t = createLogThrottle({
      logger,
      clock,
      level: "warn",
      message: "busy",
      endMessage: "calm",
      intervalMs: 1000,
    });
    t.end(); // nothing to close
    t.hit({ who: "a" });
    for (let i = 0; i < 5; i += 1) t.hit({ who: "b" });
    clock.advance(999);
    t.hit({ who: "c" });
    clock.advance(1);
    t.hit({ who: "d" });
    clock.advance(500);
    t.hit();
    t.end();
    t.end();
    t.hit({ who: "e" });
    expect(logger.lines.map((l) => [l.level, l.message, l.fields])).toEqual([
      ["warn", "busy", { who: "a" }],
      ["warn", "busy", { who: "d", count: 7, seconds: 1 }],
      ["warn", "calm", { count: 9, seconds: 1.5 }],
      ["warn", "busy", { who: "e" }],
    ]);
  });

  it("defaults to info, a 10 s interval, and '<message>: over'", () => {
    const logger = recordingLogger();
    const clock = fakeClock();
    const t = createLogThrottle({ logger, clock, message: "refused" });
    t.hit();
    clock.advance(9_999);
    t.hit();
    t.end();
    expect(logger.lines.map((l) => [l.level, l.message, l.fields])).toEqual([
      ["info", "refused", {}],
      ["info", "refused: over", { count: 2, seconds: 9.999 }],
    ]);
  });
});

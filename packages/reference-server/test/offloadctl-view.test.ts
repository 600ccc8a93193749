import { describe, expect, it } from "@jest/globals";
import type { Session } from "@sessionoffload/offload-api";
import { nanosToIso, sessionToJson } from "../src/offloadctl/session-format";
import { renderWatchFrame, tableRates, type TableSnapshot } from "../src/offloadctl/watch-view";

const T0 = 1_796_000_000_000; // ms since the epoch

function session(id: bigint, fields: Partial<Session> = {}): Session {
  return {
    id,
    state: "established",
    closeCode: "notClosed",
    inPackets: 0n,
    outPackets: 0n,
    inBytes: 0n,
    outBytes: 0n,
    startTime: BigInt(T0) * 1_000_000n,
    endTime: undefined,
    ...fields,
  };
}

const snapshot = (atMs: number, sessions: Session[]): TableSnapshot => ({
  atMs,
  sessions: new Map(sessions.map((s) => [s.id, s])),
});

describe("watch view", () => {
  const before = snapshot(T0, [
    session(1n, { inBytes: 1000n }),
    session(2n, { inBytes: 5000n }),
    session(3n),
    session(4n, { state: "closed", closeCode: "rst" }),
  ]);
  const now = snapshot(T0 + 2000, [
    session(1n, { inBytes: 9000n, outBytes: 1000n }), // +9000 bytes in 2 s
    session(2n, { inBytes: 6000n }), // +1000
    session(3n, { state: "closed", closeCode: "timeout" }),
    session(5n),
    session(6n, { state: "closed", closeCode: "finAck" }), // added and ended between the two
  ]);

  it("rates: adds, ends by close code and departures per second", () => {
    expect(tableRates(before, now)).toEqual({
      seconds: 2,
      added: 1,
      left: 0.5,
      ended: { finAck: 0.5, rst: 0, timeout: 0.5 },
    });
  });

  it("renders the size, the rates and the busiest live sessions by bytes per second", () => {
    const lines = renderWatchFrame(now, before, {
      address: "localhost:3444",
      intervalMs: 2000,
      top: 2,
      interactive: true,
    });
    expect(lines[0]).toBe(
      `offloadctl watch localhost:3444  ${new Date(T0 + 2000).toISOString()}  (every 2 s; q to quit)`,
    );
    expect(lines.slice(1, 5)).toEqual([
      "table:  5 entries: 3 live, 2 ended, not yet collected",
      "adds:   1.0/s",
      "ended:  finAck 0.5/s  rst 0.0/s  timeout 0.5/s",
      "left:   0.5/s (collected or deleted)",
    ]);
    const rows = lines.slice(7).map((l) => l.trim().split(/\s+/));
    expect(rows[0]?.slice(0, 2)).toEqual(["ID", "STATE"]);
    expect(rows.slice(1).map((r) => [r[0], r[2], r[3]])).toEqual([
      ["1", "4000", "500"],
      ["2", "500", "0"],
    ]);
  });

  it("the first frame has no rates yet", () => {
    const lines = renderWatchFrame(before, undefined, { address: "x:1", intervalMs: 500, top: 5, interactive: false });
    expect(lines.slice(2, 5)).toEqual(["adds:   -", "ended:  -", "left:   -"]);
    expect(lines[0]).toMatch(/\(every 0\.5 s\)$/);
  });
});

describe("JSON form", () => {
  it("times as ISO 8601 with nanoseconds, ids and counters as strings", () => {
    expect(nanosToIso(1_796_000_000_123_456_789n)).toBe("2026-11-30T00:53:20.123456789Z");
    expect(nanosToIso(0n)).toBe("1970-01-01T00:00:00.000000000Z");
    expect(
      sessionToJson(session(2n ** 64n - 1n, { inBytes: 2n ** 64n - 2n, endTime: 1_796_000_000_000_000_001n })),
    ).toMatchObject({
      id: "18446744073709551615",
      inBytes: "18446744073709551614",
      endTime: "2026-11-30T00:53:20.000000001Z",
    });
  });
});

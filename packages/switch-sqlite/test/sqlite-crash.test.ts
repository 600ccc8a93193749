import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import path from "node:path";
import { createSqliteSwitch } from "../src";
import { makeTempDir, removeTempDir, startFixture, type FixtureProcess } from "./fixtures/sqlite-helpers";

describe("SQLite switch killed with SIGKILL in the middle of a stream of adds", () => {
  let dir: string;
  let child: FixtureProcess | undefined;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(async () => {
    if (child !== undefined && child.child.exitCode === null && child.child.signalCode === null) {
      child.child.kill("SIGKILL");
      await child.exited;
    }
    child = undefined;
    removeTempDir(dir);
  });

  it("loses no acknowledged add, and a held lease's sessions come back after restart", async () => {
    const file = path.join(dir, "switch.db");
    child = startFixture("sqlite-add-stream.ts", [file, "32", "300"]);
    const leasedLine = await child.waitFor((line) => line.startsWith("leased "));
    // Kill while adds are still streaming: a few thousand acks past the lease.
    const target = child.lines.length + 3000;
    await child.waitFor(() => child !== undefined && child.lines.length >= target);
    child.child.kill("SIGKILL");
    expect(await child.exited).toBe("SIGKILL");

    const acked = child.lines.filter((l) => l.startsWith("ack ")).map((l) => BigInt(l.slice(4)));
    const leased = leasedLine.split(" ").slice(1).map(BigInt);
    expect(acked.length).toBeGreaterThanOrEqual(3000);
    expect(new Set(acked).size).toBe(acked.length);
    expect(leased).toHaveLength(10);

    const sw = createSqliteSwitch({ path: file, traffic: false, tickIntervalMs: 0 });
    try {
      const missing = acked.filter((id) => sw.get(id) === undefined);
      expect(missing).toEqual([]);
      const stored = [...sw.sessions()];
      // Committed but not yet acknowledged adds may be there too, never fewer.
      expect(stored.length).toBeGreaterThanOrEqual(acked.length);
      expect(sw.size()).toBe(stored.length);
      // The dead process's lease is reaped at open (its pid is gone): none of its sessions is lost.
      const lease = sw.takeClosed(100);
      expect(lease.sessions.map((s) => s.id)).toEqual(leased);
      expect(lease.sessions.every((s) => s.state === "closed" && s.closeCode === "rst")).toBe(true);
    } finally {
      sw.close();
    }
  });
});

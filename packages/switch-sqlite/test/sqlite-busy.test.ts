import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import Database from "better-sqlite3";
import path from "node:path";
import { SwitchUnavailableError } from "@sessionoffload/switch-backend";
import { createSqliteSwitch, type SqliteSwitch } from "../src";
import { makeTempDir, removeTempDir, specFor } from "./fixtures/sqlite-helpers";

describe("a busy SQLite switch database", () => {
  let dir: string;
  let sw: SqliteSwitch | undefined;
  let other: Database.Database | undefined;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(() => {
    other?.close();
    other = undefined;
    sw?.close();
    sw = undefined;
    removeTempDir(dir);
  });

  it("rejects writes with SwitchUnavailableError (the servers answer UNAVAILABLE) while another connection holds the lock", async () => {
    const file = path.join(dir, "switch.db");
    sw = createSqliteSwitch({ path: file, traffic: false, tickIntervalMs: 0, busyTimeoutMs: 50 });
    other = new Database(file);
    other.exec("BEGIN IMMEDIATE");
    const add = sw.add(specFor(1));
    await expect(add).rejects.toBeInstanceOf(SwitchUnavailableError);
    await expect(add).rejects.toMatchObject({
      retryable: true,
      cause: { code: expect.stringMatching(/^SQLITE_BUSY/) },
    });
    other.exec("ROLLBACK");
    // The lock is gone: the same add goes in, nothing half-applied before.
    expect(sw.size()).toBe(0);
    expect((await sw.add(specFor(1))).kind).toBe("accepted");
  });
});

import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { createSqliteSwitch, SqliteSwitchOpenError } from "../src";
import { makeTempDir, removeTempDir, specFor } from "./fixtures/sqlite-helpers";

/** A file's bytes' hash and the directory's listing: both must be unchanged by a refused open. */
function snapshot(dir: string, file: string): { hash: string | undefined; listing: string[] } {
  const hash = fs.existsSync(file) ? createHash("sha256").update(fs.readFileSync(file)).digest("hex") : undefined;
  return { hash, listing: fs.readdirSync(dir).sort() };
}

function openError(file: string): SqliteSwitchOpenError {
  try {
    createSqliteSwitch({ path: file, traffic: false, tickIntervalMs: 0 }).close();
  } catch (err) {
    if (err instanceof SqliteSwitchOpenError) return err;
    throw err;
  }
  throw new Error("createSqliteSwitch did not refuse the file");
}

async function makeOurs(file: string): Promise<void> {
  const sw = createSqliteSwitch({ path: file, traffic: false, tickIntervalMs: 0 });
  await sw.add(specFor(1));
  sw.close();
}

describe("createSqliteSwitch refuses a database it must not use, leaving it untouched", () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = makeTempDir();
    file = path.join(dir, "switch.db");
  });
  afterEach(() => removeTempDir(dir));

  const cases: [string, () => void | Promise<void>, string, RegExp][] = [
    [
      "another application's SQLite database",
      () => {
        const db = new Database(file);
        db.exec("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ada');");
        db.close();
      },
      "notOurs",
      /another application .*no switch application_id/,
    ],
    [
      "another application's database with its own application_id",
      () => {
        const db = new Database(file);
        db.pragma("application_id = 42");
        db.exec("CREATE TABLE sessions (id INTEGER)");
        db.close();
      },
      "notOurs",
      /application_id 42/,
    ],
    ["random bytes", () => fs.writeFileSync(file, randomBytes(16_384)), "corrupt", /not an SQLite database/],
    [
      "a file shorter than an SQLite header",
      () => fs.writeFileSync(file, "SQLite format 3"),
      "corrupt",
      /no SQLite header/,
    ],
    [
      "a text file",
      () => fs.writeFileSync(file, "hello, this is not a database\n".repeat(200)),
      "corrupt",
      /not an SQLite database/,
    ],
    [
      "a read-only file",
      async () => {
        await makeOurs(file);
        fs.chmodSync(file, 0o444);
      },
      "unwritable",
      /file .* is read-only/,
    ],
    [
      "a read-only directory (the -wal and -shm files cannot be made)",
      async () => {
        await makeOurs(file);
        fs.chmodSync(dir, 0o555);
      },
      "unwritable",
      /directory .* is read-only/,
    ],
    ["a new file in a read-only directory", () => fs.chmodSync(dir, 0o555), "unwritable", /directory .* is read-only/],
    [
      "a switch database of a newer schema",
      async () => {
        await makeOurs(file);
        const db = new Database(file);
        db.pragma("user_version = 99");
        db.pragma("journal_mode = DELETE");
        db.close();
      },
      "newerSchema",
      /schema version 99 is newer/,
    ],
  ];

  it.each(cases)("%s", async (_name, prepare, reason, message) => {
    await prepare();
    const before = snapshot(dir, file);
    const error = openError(file);
    expect(error.reason).toBe(reason);
    expect(error.path).toBe(file);
    expect(error.message).toMatch(message);
    expect(error.message).toContain(file);
    expect(error.message).not.toContain("\n");
    expect(snapshot(dir, file)).toEqual(before);
  });

  it("refuses another application's WAL database whose tables are only in its WAL, writing nothing", () => {
    const other = new Database(file);
    try {
      other.pragma("journal_mode = WAL");
      other.pragma("wal_autocheckpoint = 0");
      other.exec("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ada');");
      const before = snapshot(dir, file);
      const error = openError(file);
      expect(error.reason).toBe("notOurs");
      expect(error.message).toMatch(/tables in its WAL/);
      expect(snapshot(dir, file)).toEqual(before);
      expect(other.prepare("SELECT name FROM users").pluck().all()).toEqual(["ada"]);
      expect(other.prepare("SELECT count(*) FROM sqlite_schema").pluck().get()).toBe(1);
    } finally {
      other.close();
    }
  });

  it("refuses a path whose directory does not exist, creating nothing", () => {
    const missing = path.join(dir, "nope", "switch.db");
    expect(openError(missing).reason).toBe("missingDirectory");
    expect(fs.existsSync(path.join(dir, "nope"))).toBe(false);
  });

  it("adopts an empty file (a new database) and an existing switch database", async () => {
    fs.writeFileSync(file, "");
    await makeOurs(file);
    const sw = createSqliteSwitch({ path: file, traffic: false, tickIntervalMs: 0 });
    expect(sw.size()).toBe(1);
    sw.close();
  });
});

import Database from "better-sqlite3";
import fs from "node:fs";
import nodePath from "node:path";
import { idToStored } from "./id-codec";
import { SqliteSwitchOpenError } from "./open-error";
import { APPLICATION_ID, MIGRATE_1_TO_2_SQL, SCHEMA_SQL, SCHEMA_VERSION } from "./schema";

/** How `openSwitchDatabase` opens the file. */
export interface OpenDatabaseOptions {
  /** First id of a new database (ignored for an existing one). */
  readonly firstId: bigint;
  /** How long a write waits for another process's lock, in milliseconds. */
  readonly busyTimeoutMs: number;
  /** `PRAGMA synchronous` in WAL mode. */
  readonly synchronous: "full" | "normal";
}

type Inspection = "absent" | "empty" | "ours";

function hasWriteBit(mode: number): boolean {
  return (mode & 0o222) !== 0;
}

/** Throws unless `target` may be written by this process (mode bits are checked too: root ignores them). */
function checkWritable(path: string, target: string, what: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
    fs.accessSync(target, fs.constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new SqliteSwitchOpenError(path, "unwritable", `${what} ${target} is not writable (${code})`, { cause: err });
  }
  if (!hasWriteBit(stat.mode)) {
    throw new SqliteSwitchOpenError(
      path,
      "unwritable",
      `${what} ${target} is read-only (mode ${(stat.mode & 0o777).toString(8)})`,
    );
  }
}

const SQLITE_MAGIC = Buffer.from("SQLite format 3\0", "latin1");
const HEADER_BYTES = 108;

/**
 * Reads the file's first bytes with plain fs (no SQLite connection, so not
 * even a -shm file is made) and says whether it is ours, an empty database,
 * or absent. The SQLite header holds user_version at offset 60 and
 * application_id at 68; page 1's b-tree header at 100 tells an empty schema
 * (a leaf with no cells). A header can be stale while another process holds
 * newer pages in the WAL, but only towards "empty", which the schema
 * creation re-checks inside its transaction.
 */
function inspect(path: string, file: string): Inspection {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "absent";
    throw new SqliteSwitchOpenError(path, "unwritable", `cannot stat the file (${code})`, { cause: err });
  }
  if (!stat.isFile()) throw new SqliteSwitchOpenError(path, "notOurs", "not a regular file");
  if (stat.size === 0) return "empty";
  const header = Buffer.alloc(HEADER_BYTES);
  let read: number;
  try {
    const fd = fs.openSync(file, "r");
    try {
      read = fs.readSync(fd, header, 0, HEADER_BYTES, 0);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SqliteSwitchOpenError(path, "unwritable", `cannot read the file (${code})`, { cause: err });
  }
  if (read < HEADER_BYTES || !header.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC)) {
    throw new SqliteSwitchOpenError(path, "corrupt", "not an SQLite database (no SQLite header)");
  }
  const version = header.readUInt32BE(60);
  const appId = header.readUInt32BE(68);
  if (appId === APPLICATION_ID) {
    if (version > SCHEMA_VERSION) {
      throw new SqliteSwitchOpenError(
        path,
        "newerSchema",
        `schema version ${version} is newer than this code's ${SCHEMA_VERSION}`,
      );
    }
    return "ours";
  }
  const emptySchema = header.readUInt8(100) === 0x0d && header.readUInt16BE(103) === 0;
  if (appId === 0 && emptySchema) return "empty";
  throw new SqliteSwitchOpenError(
    path,
    "notOurs",
    appId === 0
      ? "an SQLite database of another application (it has tables but no switch application_id)"
      : `an SQLite database of another application (application_id ${appId})`,
  );
}

/** After the read-write open: the real (not header) marker and tables must be ours. */
function verifyOurs(path: string, db: Database.Database): void {
  const version = Number(db.pragma("user_version", { simple: true }));
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all() as string[];
  if (version !== SCHEMA_VERSION || !["sessions", "switch_state", "owners"].every((t) => tables.includes(t))) {
    throw new SqliteSwitchOpenError(path, "corrupt", `switch database schema ${version} is incomplete`);
  }
}

function createSchema(path: string, db: Database.Database, firstId: bigint): void {
  db.transaction(() => {
    // Another process may have created it between our inspection and now.
    if (Number(db.pragma("application_id", { simple: true })) === APPLICATION_ID) return;
    // The header looked empty, but a WAL can hold another application's tables: write nothing then.
    if (db.prepare("SELECT count(*) FROM sqlite_schema").pluck().get() !== 0n) {
      throw new SqliteSwitchOpenError(path, "notOurs", "an SQLite database of another application (tables in its WAL)");
    }
    db.exec(SCHEMA_SQL);
    db.prepare("INSERT INTO switch_state (singleton, next_id, entries) VALUES (1, ?, 0)").run(idToStored(firstId));
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/** Brings a database of an older schema version to this code's, in one write transaction. */
function migrate(db: Database.Database): void {
  if (Number(db.pragma("user_version", { simple: true })) >= SCHEMA_VERSION) return;
  db.transaction(() => {
    // Another process may have migrated it meanwhile.
    if (Number(db.pragma("user_version", { simple: true })) !== 1) return;
    db.exec(MIGRATE_1_TO_2_SQL);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && code.startsWith("SQLITE_BUSY");
}

/**
 * Switches the file to WAL mode, retrying while another process holds a lock.
 * The pragma reads the file first and then must write it; SQLite never lets a
 * reader wait to become a writer (two could wait on each other), so while
 * another connection holds the write lock, as a second server starting on a
 * new file does, it answers SQLITE_BUSY at once without its busy handler. The
 * wait is ours, up to the busy timeout.
 */
function enableWal(db: Database.Database, busyTimeoutMs: number): void {
  const deadline = Date.now() + busyTimeoutMs;
  for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
    try {
      db.pragma("journal_mode = WAL");
      return;
    } catch (err) {
      if (!isBusy(err) || Date.now() >= deadline) throw err;
      Atomics.wait(sleepCell, 0, 0, pause);
    }
  }
}

/**
 * Opens (creating if needed) a switch database. Everything that could refuse
 * the file is checked before anything is written: the directory and file are
 * writable, and an existing file's header, read with plain fs, carries our
 * application_id and a schema version we know (or it is an empty database).
 * Only then is it opened read-write in WAL mode with safe (BigInt) integers.
 * Throws `SqliteSwitchOpenError`.
 */
export function openSwitchDatabase(path: string, options: OpenDatabaseOptions): Database.Database {
  const file = nodePath.resolve(path);
  const dir = nodePath.dirname(file);
  if (!fs.existsSync(dir)) {
    throw new SqliteSwitchOpenError(path, "missingDirectory", `directory ${dir} does not exist`);
  }
  // WAL mode keeps -wal and -shm files beside the database.
  checkWritable(path, dir, "directory");
  const found = inspect(path, file);
  if (found !== "absent") checkWritable(path, file, "file");
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { timeout: options.busyTimeoutMs, fileMustExist: found !== "absent" });
    db.defaultSafeIntegers(true);
    enableWal(db, options.busyTimeoutMs);
    db.pragma(`synchronous = ${options.synchronous.toUpperCase()}`);
    if (found !== "ours") createSchema(path, db, options.firstId);
    migrate(db);
    verifyOurs(path, db);
    return db;
  } catch (err) {
    db?.close();
    if (err instanceof SqliteSwitchOpenError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: string }).code ?? "";
    if (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT")) {
      throw new SqliteSwitchOpenError(path, "corrupt", `corrupt database (${message})`, { cause: err });
    }
    throw new SqliteSwitchOpenError(path, "unwritable", `cannot open for writing (${message})`, { cause: err });
  }
}

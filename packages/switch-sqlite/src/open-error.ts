/** Why `createSqliteSwitch` refused a database file. */
export type SqliteSwitchOpenReason = "notOurs" | "corrupt" | "unwritable" | "newerSchema" | "missingDirectory";

/**
 * Thrown by `createSqliteSwitch` when the database file cannot be used: it
 * belongs to another application, is not an SQLite database, cannot be
 * written, or was made by a newer schema. The file is left untouched. The
 * message is one line naming the path and the reason, fit for a command's
 * stderr before it exits with status 2.
 */
export class SqliteSwitchOpenError extends Error {
  override readonly name = "SqliteSwitchOpenError";
  constructor(
    /** The database path as given. */
    readonly path: string,
    /** Machine-readable reason. */
    readonly reason: SqliteSwitchOpenReason,
    /** Human-readable detail. */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot use switch database ${path}: ${detail}`, options);
  }
}

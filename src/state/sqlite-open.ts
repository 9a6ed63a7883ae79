// How every store opens its connection to the SQLite state file, so they all agree: the file
// made private first (sqlite-file.ts), WAL mode and one busy timeout (the server, the CLI and
// other processes share the file), then the store's own setup (its migrations). A setup that
// throws closes the connection again, so a failed open leaves nothing open behind it.
import Database from "better-sqlite3";
import { prepareSqliteFile } from "./sqlite-file.js";

/** How long a writer waits for another process's write lock before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

export interface StateFileOptions {
  /**
   * synchronous = NORMAL: with WAL a commit survives a process crash; only an OS crash can lose
   * the last ones. Off keeps SQLite's default (FULL). On unless said otherwise.
   */
  readonly synchronousNormal?: boolean;
  /** Enforce REFERENCES (SQLite does not by default). */
  readonly foreignKeys?: boolean;
  /** Zero deleted rows' bytes instead of leaving them in free pages. */
  readonly secureDelete?: boolean;
}

/** Opens `path` for a store; `setup` runs on the open connection (a throw closes it). */
export function openStateFile(
  path: string,
  o: StateFileOptions,
  setup: (db: Database.Database) => void,
): Database.Database {
  prepareSqliteFile(path);
  const db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  try {
    db.pragma("journal_mode = WAL");
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (o.foreignKeys === true) db.pragma("foreign_keys = ON");
    if (o.synchronousNormal !== false) db.pragma("synchronous = NORMAL");
    if (o.secureDelete === true) db.pragma("secure_delete = ON");
    setup(db);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

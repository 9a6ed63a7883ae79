// How every store opens its connection to the SQLite state file, so they all agree: the file
// made private first (sqlite-file.ts), WAL mode and one busy timeout (the server, the CLI and
// other processes share the file), then the store's own setup (its migrations). A setup that
// throws closes the connection again, so a failed open leaves nothing open behind it.
//
// Members of a cluster on one machine start together (`cluster up`), and `mailyard db migrate`
// may run beside them. Each store's setup needs the file's write lock for a moment; SQLite's
// busy timeout waits for it, but only so long per statement, and some lock conflicts (a
// journal-mode change, a WAL being recovered or reset) answer SQLITE_BUSY without waiting at
// all. So the whole setup is retried while the file is busy, until START_TURN_MS: a start waits
// its turn instead of exiting with "database is locked". A setup must be safe to repeat
// (pragmas are, and a migration that failed rolled back).
import Database from "better-sqlite3";
import { prepareSqliteFile } from "./sqlite-file.js";

/** How long a writer waits for another process's write lock before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;
/** The longest a store's setup waits for its turn before the open fails. */
export const START_TURN_MS = 120_000;
const PAUSE_MS = { min: 20, max: 250 };

export interface StateFileOptions {
  /** Names the store in the error when its turn never came. */
  readonly what: string;
  /**
   * synchronous = NORMAL: with WAL a commit survives a process crash; only an OS crash can lose
   * the last ones. Off keeps SQLite's default (FULL). On unless said otherwise.
   */
  readonly synchronousNormal?: boolean;
  /** Enforce REFERENCES (SQLite does not by default). */
  readonly foreignKeys?: boolean;
  /** Zero deleted rows' bytes instead of leaving them in free pages. */
  readonly secureDelete?: boolean;
  /** How long setup is retried while the file is busy (START_TURN_MS unless said otherwise). */
  readonly waitMs?: number;
}

/** SQLITE_BUSY and SQLITE_LOCKED in all their extended forms. */
export function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^SQLITE_(BUSY|LOCKED)/.test(code);
}

const pause = (ms: number): void => {
  // The open is synchronous (better-sqlite3 is), and so is SQLite's own busy wait.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/**
 * Opens `path` for a store; `setup` runs on the open connection, again while the file is busy
 * until the wait is over. Any other throw, or the wait running out, closes the connection.
 */
export function openStateFile(
  path: string,
  o: StateFileOptions,
  setup: (db: Database.Database) => void,
): Database.Database {
  prepareSqliteFile(path);
  const db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  const waitMs = o.waitMs ?? START_TURN_MS;
  const deadline = Date.now() + waitMs;
  for (let tries = 1; ; tries++) {
    try {
      db.pragma("journal_mode = WAL");
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      if (o.foreignKeys === true) db.pragma("foreign_keys = ON");
      if (o.synchronousNormal !== false) db.pragma("synchronous = NORMAL");
      if (o.secureDelete === true) db.pragma("secure_delete = ON");
      setup(db);
      return db;
    } catch (e) {
      if (!isBusy(e)) {
        db.close();
        throw e;
      }
      if (Date.now() >= deadline) {
        db.close();
        throw new Error(
          `${o.what}: the state file ${path} stayed locked by other processes for ${Math.round(waitMs / 1000)} s (${tries} tries): ${String(e)}`,
          { cause: e },
        );
      }
      pause(Math.min(PAUSE_MS.max, PAUSE_MS.min * tries));
    }
  }
}

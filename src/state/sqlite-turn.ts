// Opening a store on a SQLite state file that other processes open at the same time: members of
// a cluster on one machine start together (`cluster up`), and `mailyard db migrate` may run
// beside them. Each store's setup (journal mode, pragmas, its migrations in one IMMEDIATE
// transaction) needs the file's write lock for a moment; SQLite's busy timeout waits for it, but
// only so long per statement, and some lock conflicts (a journal-mode change, a WAL being
// recovered or reset) answer SQLITE_BUSY without waiting at all. So the whole setup is retried
// while the file is busy, until START_TURN_MS: a start waits its turn instead of exiting with
// "database is locked". The setup must be safe to repeat (pragmas are, and a migration that
// failed rolled back).
import Database from "better-sqlite3";

/** Per statement: how long SQLite itself waits for a lock. */
export const BUSY_TIMEOUT_MS = 5000;
/** The longest a store's setup waits for its turn before the open fails. */
export const START_TURN_MS = 120_000;
const PAUSE_MS = { min: 20, max: 250 };

/** SQLITE_BUSY and SQLITE_LOCKED in all their extended forms. */
export function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^SQLITE_(BUSY|LOCKED)/.test(code);
}

const pause = (ms: number): void => {
  // The open is synchronous (better-sqlite3 is), and so is SQLite's own busy wait.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

export interface TurnOptions {
  /** Names the store in the error when the turn never came. */
  readonly what: string;
  readonly waitMs?: number;
}

/**
 * Opens the file in WAL mode with the busy timeout and runs setup (the store's own pragmas and
 * migrations) on it, again while the file is busy, until the wait is over; the connection is
 * closed when setup fails for good.
 */
export function openSqliteInTurn(
  path: string,
  setup: (db: Database.Database) => void,
  o: TurnOptions,
): Database.Database {
  const db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  const deadline = Date.now() + (o.waitMs ?? START_TURN_MS);
  for (let tries = 1; ; tries++) {
    try {
      // WAL: readers never wait for the writer, and every process on the file shares the mode.
      db.pragma("journal_mode = WAL");
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      setup(db);
      return db;
    } catch (e) {
      if (!isBusy(e) || Date.now() >= deadline) {
        db.close();
        if (!isBusy(e)) throw e;
        throw new Error(
          `${o.what}: the state file ${path} stayed locked by other processes for ${Math.round((o.waitMs ?? START_TURN_MS) / 1000)} s (${tries} tries): ${String(e)}`,
          { cause: e },
        );
      }
      pause(Math.min(PAUSE_MS.max, PAUSE_MS.min * tries));
    }
  }
}

// One node per data directory: the lock a node takes first thing at start, before it recovers
// the queue or touches any other file there, so a second node started on the same directory by
// mistake fails at once and changes nothing.
//
// The lock is dataDir/.lock, a SQLite file held with an exclusive lock for the node's lifetime
// (locking_mode=EXCLUSIVE). SQLite locks with POSIX fcntl locks, which the kernel drops when the
// holder's process ends in any way (kill -9 included): a stale lock cannot exist, and there is no
// pid file to judge or clean. The holder's pid is written into the file for people; the refusal
// names it as the kernel reports it (/proc/locks), since the file itself is unreadable while
// locked. Nothing here opens the lock file except SQLite: closing any other descriptor of it would
// drop the process's POSIX locks.
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import Database from "better-sqlite3";

export const LOCK_FILE = ".lock";

/** Another live process (or another node in this process) holds the data directory. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    /** The holder's pid as the kernel reports it; null where it cannot be told. */
    readonly holder: number | null,
  ) {
    super(
      `data directory ${dataDir} is in use by another Mailyard node` +
        (holder !== null ? ` (pid ${holder})` : "") +
        `: stop it first, or give this node its own dataDir`,
    );
    this.name = "DataDirInUseError";
  }
}

export interface DataDirLock {
  /** Idempotent. */
  release(): void;
}

/** Take the data directory's lock or throw DataDirInUseError; creates the directory if needed. */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, LOCK_FILE);
  // timeout 0: a held lock answers SQLITE_BUSY at once instead of after a busy wait.
  const db = new Database(path, { timeout: 0 });
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    // No -journal file beside the lock; the one row it holds is informational.
    db.pragma("journal_mode = MEMORY");
    db.exec("BEGIN EXCLUSIVE");
    db.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, started TEXT NOT NULL)");
    db.exec("DELETE FROM holder");
    db.prepare("INSERT INTO holder (pid, started) VALUES (?, ?)").run(process.pid, new Date().toISOString());
    // In EXCLUSIVE locking mode the lock outlives the transaction: it is held until close.
    db.exec("COMMIT");
  } catch (e) {
    db.close();
    if ((e as { code?: string }).code === "SQLITE_BUSY" || (e as { code?: string }).code === "SQLITE_LOCKED")
      throw new DataDirInUseError(dataDir, await lockHolder(path));
    throw e;
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      db.close();
    },
  };
}

/** The pid holding a POSIX lock on the file, from /proc/locks (Linux); null elsewhere. */
async function lockHolder(path: string): Promise<number | null> {
  try {
    const { ino } = await stat(path);
    for (const line of (await readFile("/proc/locks", "utf8")).split("\n")) {
      // "1: POSIX  ADVISORY  WRITE 12345 08:01:131090 1073741824 1073741825"
      const f = line.trim().split(/\s+/);
      const dev = f[5]?.split(":");
      if (f[1] === "POSIX" && dev?.length === 3 && Number(dev[2]) === ino) return Number(f[4]);
    }
  } catch {
    // Not Linux, or /proc not mounted: the message just names no pid.
  }
  return null;
}

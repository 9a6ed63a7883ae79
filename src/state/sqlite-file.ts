// The SQLite state file made private before SQLite opens it: it holds password hashes, RPOP
// entries, the WebAdmin's sessions and the cluster's leases, so only the node's user may read
// it. SQLite would create it 0644 (SQLITE_DEFAULT_FILE_PERMISSIONS, less the umask) and gives
// its -wal, -shm and -journal files the database file's mode, so making the main file 0600 first
// covers them all. A file or directory left readable by an older version is tightened here.
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";

export const STATE_FILE_MODE = 0o600;
export const STATE_DIR_MODE = 0o700;

const SIDE_FILES = ["", "-wal", "-shm", "-journal"];

/** Creates the parent directory (0700) and the file (0600) when missing; tightens existing ones. */
export function prepareSqliteFile(path: string): void {
  if (path === ":memory:" || path === "") return;
  // Only directories made here get 0700: an existing parent (/var/lib, a shared data dir) is
  // the operator's and is left as it is.
  mkdirSync(dirname(path), { recursive: true, mode: STATE_DIR_MODE });
  closeSync(openSync(path, "a", STATE_FILE_MODE));
  for (const suffix of SIDE_FILES) {
    const file = path + suffix;
    let mode: number;
    try {
      mode = statSync(file).mode;
    } catch {
      continue;
    }
    if ((mode & 0o077) !== 0) chmodSync(file, STATE_FILE_MODE);
  }
}

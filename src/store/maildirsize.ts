// Maildir++ quota (the `maildirsize` file at the mailbox root, as Courier defined it and Dovecot's
// maildir quota backend keeps it), so that Mailyard and any other program on the same Maildir
// agree on a mailbox's usage. Line 1 is the limit ("<bytes>S", Dovecot may add ",<count>C"); each
// further line "<bytes> <count>" is a change: +size 1 for a delivery, -size -1 for a deletion;
// usage is their sum. Writers append one line with a single O_APPEND write (no lock needed) and
// only to a file that exists; a missing file is rebuilt by the next reader.
//
// The file is rebuilt from the folders (INBOX and every Maildir++ ".Name" subfolder, new/ and cur/,
// sizes from ",S=" in the file name, else stat) when it is missing or malformed, larger than 5120
// bytes or older than 15 minutes (the Maildir++ rules), when its limit is not the account's, and
// when a folder changed after the file did: a program that removed or added a message without
// recording it (a file deleted by hand) is seen at the next read. Rebuilt files are written in
// tmp/ and renamed over the old one. Within the process a rebuild never runs between a change to
// the folders and its line (changeRecorded): a scan that saw a message and then its +line would
// count it twice. Paths come from maildir.ts, which validated them.
import { constants } from "node:fs";
import { chmod, open, readdir, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { oneAtATime } from "./one-at-a-time.js";

export interface MailboxUsage {
  readonly bytes: number;
  readonly count: number;
}

export const MAILDIRSIZE = "maildirsize";
/** Maildir++: past this size the file is rebuilt. */
const MAX_FILE = 5120;
/** Maildir++: a file older than this is rebuilt. */
const STALE_MS = 15 * 60 * 1000;

const missing = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === "ENOENT";

/**
 * Records a change to the mailbox at `box` (its root) when it has a maildirsize; without one the
 * change is left for the next usage() to count. Errors are swallowed: a change not recorded is
 * caught by the folder-changed rule.
 */
export async function recordUsage(box: string, bytes: number, count: number): Promise<void> {
  return appendLine(box, bytes, count);
}

/**
 * `change` (a rename into new/, an unlink) and then its line, with no rebuild of this mailbox's
 * file in between (in this process). The line is written only when `change` resolves.
 */
export function changeRecorded<T>(
  box: string,
  bytes: number,
  count: number,
  change: () => Promise<T>,
): Promise<T> {
  return oneAtATime(`maildirsize:${box}`, async () => {
    const r = await change();
    await appendLine(box, bytes, count);
    return r;
  });
}

async function appendLine(box: string, bytes: number, count: number): Promise<void> {
  let fh;
  try {
    // "a" would create the file, and a lone change line is no maildirsize: O_APPEND, no O_CREAT.
    fh = await open(join(box, MAILDIRSIZE), constants.O_WRONLY | constants.O_APPEND);
  } catch {
    return;
  }
  try {
    await fh.write(`${bytes} ${count}\n`);
  } catch {
    // left for the rebuild
  } finally {
    await fh.close().catch(() => undefined);
  }
}

interface Parsed {
  readonly limit: string;
  readonly usage: MailboxUsage;
}

function parse(text: string): Parsed | null {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const limit = lines[0];
  if (limit === undefined || !/^\d+S(,\d+C)?$|^\d+C(,\d+S)?$/.test(limit.trim())) return null;
  let bytes = 0;
  let count = 0;
  for (const line of lines.slice(1)) {
    const m = /^\s*(-?\d+)\s+(-?\d+)\s*$/.exec(line);
    if (m === null) return null;
    bytes += Number(m[1]);
    count += Number(m[2]);
  }
  if (!Number.isSafeInteger(bytes) || !Number.isSafeInteger(count)) return null;
  return {
    limit: limit.trim(),
    usage: { bytes: Math.max(0, bytes), count: Math.max(0, count) },
  };
}

/** The folders of a mailbox: its root (INBOX) and every Maildir++ subfolder. */
async function folders(box: string): Promise<string[]> {
  const out = [box];
  for (const d of await readdir(box, { withFileTypes: true }).catch(() => [])) {
    if (d.isDirectory() && d.name.startsWith(".") && d.name !== "." && d.name !== "..")
      out.push(join(box, d.name));
  }
  return out;
}

const SIZE_IN_NAME = /,S=(\d+)/;

async function scan(box: string): Promise<MailboxUsage> {
  let bytes = 0;
  let count = 0;
  for (const f of await folders(box)) {
    for (const sub of ["new", "cur"]) {
      const dir = join(f, sub);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (name.startsWith(".")) continue;
        const m = SIZE_IN_NAME.exec(name);
        let size: number;
        if (m !== null) size = Number(m[1]);
        else {
          const st = await stat(join(dir, name)).catch(() => null);
          if (st === null || !st.isFile()) continue; // gone meanwhile
          size = st.size;
        }
        bytes += size;
        count++;
      }
    }
  }
  return { bytes, count };
}

/**
 * A folder's new/ or cur/ changed after `since` (ns): something the file does not account for.
 * Deliveries and deletions that record themselves do so after they change the folder. (File
 * times move in ticks of a few ms: a change in the tick the file was written is left to the
 * 15-minute rule.)
 */
async function changedSince(box: string, since: bigint): Promise<boolean> {
  for (const f of await folders(box)) {
    for (const sub of ["new", "cur"]) {
      const st = await stat(join(f, sub), { bigint: true }).catch(() => null);
      if (st !== null && st.mtimeNs > since) return true;
    }
  }
  return false;
}

let rebuilds = 0;

/**
 * The usage of the mailbox at `box` (its root), whose limit is `limitBytes`; null when the mailbox
 * does not exist (here). Rebuilds maildirsize when a rule in the header says so.
 */
export async function mailboxUsage(
  box: string,
  limitBytes: number,
  now: () => number,
  fileMode = 0o600,
): Promise<MailboxUsage | null> {
  const path = join(box, MAILDIRSIZE);
  const limit = `${limitBytes}S`;
  const [text, st] = await Promise.all([
    readFile(path, "latin1").catch(() => null),
    stat(path, { bigint: true }).catch(() => null),
  ]);
  if (text !== null && st !== null && st.size <= BigInt(MAX_FILE)) {
    const p = parse(text);
    const fresh = Number(st.mtimeNs / 1_000_000n) > now() - STALE_MS;
    if (p !== null && p.limit.split(",").includes(limit) && fresh && !(await changedSince(box, st.mtimeNs)))
      return p.usage;
  }
  return oneAtATime(`maildirsize:${box}`, () => rebuild(box, path, limit, fileMode));
}

async function rebuild(box: string, path: string, limit: string, mode: number): Promise<MailboxUsage | null> {
  let exists;
  try {
    exists = await stat(box);
  } catch (e) {
    if (missing(e)) return null;
    throw e;
  }
  if (!exists.isDirectory()) return null;
  const usage = await scan(box);
  // Maildir++: the new file is written in tmp/ and renamed over the old one.
  const tmp = join(box, "tmp", `maildirsize.${process.pid}.${++rebuilds}`);
  try {
    // the mailbox's file mode (local.mailGroupAccess: 0660, so a Dovecot of the group can update it)
    await writeFile(tmp, `${limit}\n${usage.bytes} ${usage.count}\n`, { mode });
    await chmod(tmp, mode); // past the umask

    await rename(tmp, path);
  } catch {
    await unlink(tmp).catch(() => undefined); // no tmp/ (not a mailbox we made): just the count
  }
  return usage;
}

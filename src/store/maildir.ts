// Maildir mailboxes (https://cr.yp.to/proto/maildir.html) under <dataDir>/mail/<domain>/<local>/.
// A delivery writes the message into tmp/, fsyncs the file, renames it into new/ and fsyncs new/
// before it resolves, so a resolved delivery survives a crash. Small messages are collected in
// memory and written with one writev at commit (open, writev, fsync, close, rename: no syscall
// per chunk). rename, not link + unlink as the Maildir page suggests: the unique name (time,
// pid, counter, host) cannot clash, and it saves a syscall per message (docs/BENCHMARKS.md).
// Directory fsyncs are shared by deliveries that land in the same folder at once (group commit).
// A crash between the first write and the rename leaves a file in tmp/; the first time a process
// touches a folder it removes tmp/ files untouched for 36 hours, as the Maildir page says to.
// Each stored message is recorded in the mailbox's Maildir++ maildirsize (maildirsize.ts), which
// usage() reads: the usage quota checks go by, shared with Dovecot.
// Folder names come from addresses the directory validated; they are checked again here (no
// separators, no dot names) so no input can escape the root.
// Mail is the node user's alone (files 0600, folders 0700) unless the operator shares it with a
// group (local.mailGroupAccess: files 0660, folders 2770 so new folders keep the root's group,
// e.g. for Dovecot run under that group); those modes are set explicitly, past the umask.
import { hostname as osHostname } from "node:os";
import { chmod, mkdir, readdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import type { Log } from "../log/logger.js";
import {
  closeFd,
  fchmodFd,
  fdatasyncFd,
  fsyncDir,
  openFd,
  renamePath,
  unlinkPath,
  writevAll,
} from "./fs-calls.js";
import { changeRecorded, mailboxUsage, type MailboxUsage } from "./maildirsize.js";

export interface StoredFile {
  /** Bytes written (prepended lines included). */
  readonly size: number;
  /** Full path of the file in new/. */
  readonly path: string;
}

/**
 * Where in a mailbox a message goes: a Maildir++ subfolder (".Name", "/" in a name is the
 * hierarchy separator and becomes ".") and IMAP flags as the ":2," info letters (then the file
 * goes into cur/, as the Maildir spec wants for messages with info). Default: INBOX's new/.
 */
export interface Placement {
  readonly folder?: string | null;
  /** Maildir info letters (D F P R S T), e.g. "FS". */
  readonly flags?: string;
}

/** A Maildir++ folder directory name for a user's folder name; throws for an unsafe one. */
export function subfolderName(name: string): string {
  const parts = name.split("/").map((p) => p.trim());
  if (
    name.length > 200 ||
    parts.some(
      (p) =>
        p === "" ||
        p.startsWith(".") ||
        p.includes(".") ||
        p.includes("\\") ||
        [...p].some((c) => c.charCodeAt(0) < 0x20),
    )
  ) {
    throw new Error(`unsafe folder name: ${JSON.stringify(name)}`);
  }
  return "." + parts.join(".");
}

/** One message on its way into a mailbox. */
export interface MaildirWriter {
  /** Append bytes; resolves when the writer can take more (backpressure). */
  write(chunk: Buffer): Promise<void>;
  /** fsync, publish into new/, fsync new/. Rejects when the message is not known durable. */
  commit(): Promise<StoredFile>;
  /** Discard what was written; safe after a failed commit. */
  abort(): Promise<void>;
}

export interface MaildirStore {
  /** The folder (Maildir root) of one mailbox. Throws for a name that is not a safe folder. */
  folder(domain: string, localPart: string): string;
  /**
   * Store prepend + message as one new message. Rejects (with the file system's error) when the
   * message could not be made durable; nothing is left in new/ in that case.
   */
  deliver(domain: string, localPart: string, message: Readable, prepend: Buffer): Promise<StoredFile>;
  /** Start one message whose bytes come in chunks (direct delivery at receipt, rules). */
  begin(domain: string, localPart: string, prepend: Buffer, place?: Placement): Promise<MaildirWriter>;
  /**
   * What the mailbox holds (every folder), from its maildirsize, which carries `limitBytes` as
   * its limit; null when the mailbox does not exist here.
   */
  usage(domain: string, localPart: string, limitBytes: number): Promise<MailboxUsage | null>;
}

export interface MaildirOptions {
  /** Host name in file names; default os.hostname(). */
  readonly hostname?: string;
  /** Time source for file names (ms); default Date.now. Names need uniqueness, not a clock. */
  readonly now?: () => number;
  /** Share with the group of the root: files 0660, folders 2770 (default: 0600, 0700). */
  readonly groupAccess?: boolean;
  /**
   * Asked right before a message is renamed into the mailbox ("local@domain"): null when this
   * process may still write the account, else why not. A dynamic cluster's lease check
   * (fenced-store.ts): a refused store is abandoned (StoreFencedError), nothing is published.
   */
  readonly fence?: (account: string) => string | null;
}

/** The fence refused the store at the last moment: nothing was published; try again later. */
export class StoreFencedError extends Error {
  constructor(
    readonly account: string,
    readonly reason: string,
  ) {
    super(`store into ${account} abandoned: ${reason}`);
    this.name = "StoreFencedError";
  }
}

/** Bytes held in memory before the file is opened: a typical message is written in one writev. */
const IN_MEMORY = 128 * 1024;

function safeName(name: string, what: string): string {
  const n = name.toLowerCase();
  if (n.length === 0 || n.length > 255 || n === "." || n === ".." || /[/\\\0]/.test(n) || n.startsWith(".")) {
    throw new Error(`unsafe maildir ${what} name: ${JSON.stringify(name)}`);
  }
  return n;
}

// Maildir spec: "/" and ":" in the host name are written as \057 and \072.
const encodeHost = (h: string): string => h.replace(/\//g, "\\057").replace(/:/g, "\\072");

/**
 * fsync a directory for every caller, sharing syscalls: a caller that arrives while an fsync is
 * under way waits for the next one (the running one may have started before its link), and
 * everyone who arrives meanwhile shares that next one.
 */
function groupFsync(): (dir: string) => Promise<void> {
  const state = new Map<string, { running: Promise<void> | null; queued: Promise<void> | null }>();
  const start = (dir: string, s: { running: Promise<void> | null; queued: Promise<void> | null }) => {
    const p = fsyncDir(dir).finally(() => {
      s.running = null;
      if (s.queued === null) state.delete(dir);
    });
    s.running = p;
    return p;
  };
  return (dir) => {
    let s = state.get(dir);
    if (s === undefined) {
      s = { running: null, queued: null };
      state.set(dir, s);
    }
    if (s.queued !== null) return s.queued;
    if (s.running === null) return start(dir, s);
    const st = s;
    st.queued = s.running
      .catch(() => undefined)
      .then(() => {
        st.queued = null;
        state.set(dir, st);
        return start(dir, st);
      });
    return st.queued;
  };
}

// The Maildir page: "files in tmp/ that have not been accessed for 36 hours" may be deleted.
const TMP_STALE_MS = 36 * 3600 * 1000;

export function createMaildirStore(root: string, log: Log, opts: MaildirOptions = {}): MaildirStore {
  const host = encodeHost(opts.hostname ?? osHostname());
  const group = opts.groupAccess === true;
  const DIR_MODE = group ? 0o2770 : 0o700;
  const FILE_MODE = group ? 0o660 : 0o600;
  /** Opens a new file with FILE_MODE whatever the umask (it would take the group bits away). */
  const openNew = async (path: string, flags: string): Promise<number> => {
    const fd = await openFd(path, flags, FILE_MODE);
    if (group) {
      try {
        await fchmodFd(fd, FILE_MODE);
      } catch (e) {
        await closeFd(fd).catch(() => undefined);
        throw e;
      }
    }
    return fd;
  };
  const now = opts.now ?? Date.now;
  const syncDir = groupFsync();
  // Folders known to have tmp/new/cur; a folder removed behind our back is recreated on ENOENT.
  const ready = new Set<string>();
  let counter = 0;

  const folder = (domain: string, localPart: string): string =>
    join(root, safeName(domain, "domain"), safeName(localPart, "mailbox"));

  const ensure = async (box: string): Promise<void> => {
    if (ready.has(box)) return;
    // mkdir reports the first directory it created; every directory from that one's parent
    // down to the folder then needs an fsync so the new entries survive a crash.
    let first: string | undefined;
    for (const sub of ["tmp", "new", "cur"]) {
      const made = await mkdir(join(box, sub), { recursive: true, mode: DIR_MODE });
      first ??= made;
    }
    if (first !== undefined) {
      const top = dirname(first);
      const chain: string[] = [];
      for (let d = box; ; d = dirname(d)) {
        chain.push(d);
        if (d === top || dirname(d) === d) break;
      }
      // The umask took the group bits (and setgid) off what mkdir made: every directory made
      // here (the chain below `top`, and tmp/new/cur) gets them back.
      if (group)
        for (const d of [
          ...chain.filter((d) => d !== top),
          ...["tmp", "new", "cur"].map((s) => join(box, s)),
        ])
          await chmod(d, DIR_MODE);
      for (const d of chain) await syncDir(d);
      log.low("mailbox folder created", { folder: box });
    } else await sweepTmp(box);
    ready.add(box);
  };

  const sweepTmp = async (box: string): Promise<void> => {
    const dir = join(box, "tmp");
    for (const name of await readdir(dir).catch(() => [])) {
      const path = join(dir, name);
      const st = await stat(path).catch(() => null);
      if (st === null || !st.isFile() || now() - Math.max(st.atimeMs, st.mtimeMs) < TMP_STALE_MS) continue;
      await unlinkPath(path).catch(() => undefined);
      log.problem("stale file in tmp/ removed", { file: path, size: st.size });
    }
  };

  const uniqueName = (): string => {
    const ms = now();
    const sec = Math.floor(ms / 1000);
    const usec = (ms % 1000) * 1000 + (counter % 1000);
    counter++;
    return `${sec}.M${usec}P${process.pid}Q${counter}.${host}`;
  };

  /**
   * Bytes go to memory first; past IN_MEMORY the file is opened and every later chunk is written
   * as it comes. The file exists in tmp/ only from the first write on.
   */
  const writer = (root: string, box: string, account: string, info = ""): MaildirWriter => {
    const base = uniqueName();
    const tmpPath = join(box, "tmp", base);
    let fd: number | null = null;
    let opened = false;
    let held: Buffer[] = [];
    let heldBytes = 0;
    let size = 0;
    let done = false;

    const openTmp = async (): Promise<number> => {
      try {
        return await openNew(tmpPath, "wx");
      } catch (e) {
        // The folder was removed behind our back after we cached it: recreate it once.
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
        ready.delete(box);
        await ensure(box);
        return openNew(tmpPath, "wx");
      }
    };
    const spill = async (): Promise<number> => {
      if (!opened) {
        opened = true;
        fd = await openTmp();
      }
      const bufs = held;
      held = [];
      heldBytes = 0;
      if (bufs.length > 0) await writevAll(fd!, bufs);
      return fd!;
    };
    const cleanup = async (): Promise<void> => {
      done = true;
      held = [];
      if (fd !== null) await closeFd(fd).catch(() => undefined);
      fd = null;
      if (opened) await unlinkPath(tmpPath).catch(() => undefined);
    };

    return {
      async write(chunk) {
        if (done) throw new Error("mailbox writer is closed");
        size += chunk.length;
        held.push(chunk);
        heldBytes += chunk.length;
        if (heldBytes >= IN_MEMORY) await spill();
      },
      async commit() {
        if (done) throw new Error("mailbox writer is closed");
        // S=<size> lets readers (Dovecot) know the size without a stat.
        const newPath =
          info === ""
            ? join(box, "new", `${base},S=${size}`)
            : join(box, "cur", `${base},S=${size}:2,${info}`);
        try {
          const f = await spill();
          // fdatasync: the data and what is needed to read it back (size, blocks); the entry in
          // new/ is made durable by the directory fsync below.
          await fdatasyncFd(f);
          fd = null;
          await closeFd(f);
          // The last moment another writer could have been given the account (a lease lost
          // while the bytes were written): from the rename on, the message is in the mailbox.
          const refused = opts.fence?.(account) ?? null;
          if (refused !== null) throw new StoreFencedError(account, refused);
          // The rename and its maildirsize line, with no rebuild in between (maildirsize.ts).
          await changeRecorded(root, size, 1, () =>
            renamePath(tmpPath, newPath).catch(async (e: unknown) => {
              // new/ was removed behind our back after we cached the folder: recreate it once.
              if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
              ready.delete(box);
              await ensure(box);
              await renamePath(tmpPath, newPath);
            }),
          );
        } catch (e) {
          await cleanup();
          throw e;
        }
        done = true;
        try {
          await syncDir(join(box, info === "" ? "new" : "cur"));
        } catch (e) {
          // Not known durable: take it back out so a retry cannot make a second copy.
          await changeRecorded(root, -size, -1, () => unlinkPath(newPath)).catch(() => undefined);
          throw e;
        }
        return { size, path: newPath };
      },
      abort: cleanup,
    };
  };

  const begin = async (
    domain: string,
    localPart: string,
    prepend: Buffer,
    place: Placement = {},
  ): Promise<MaildirWriter> => {
    const root = folder(domain, localPart);
    let box = root;
    if (place.folder) {
      box = join(box, subfolderName(place.folder));
      // Maildir++: a subfolder is marked by an empty maildirfolder file (Dovecot, Courier)
      if (!ready.has(box)) {
        await ensure(box);
        const fd = await openNew(join(box, "maildirfolder"), "a");
        await closeFd(fd);
      }
    }
    await ensure(box);
    const info = [...new Set((place.flags ?? "").replace(/[^A-Za-z]/g, ""))].sort().join("");
    const w = writer(root, box, `${localPart}@${domain}`.toLowerCase(), info);
    if (prepend.length > 0) await w.write(prepend);
    return w;
  };

  const deliverOnce = async (domain: string, localPart: string, message: Readable, prepend: Buffer) => {
    const w = await begin(domain, localPart, prepend);
    try {
      for await (const chunk of message) {
        await w.write(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
      }
    } catch (e) {
      await w.abort();
      throw e;
    }
    return w.commit();
  };

  return {
    folder,
    begin,
    usage: (domain, localPart, limitBytes) =>
      mailboxUsage(folder(domain, localPart), limitBytes, now, FILE_MODE),
    async deliver(domain, localPart, message, prepend) {
      try {
        return await deliverOnce(domain, localPart, message, prepend);
      } catch (e) {
        message.destroy();
        throw e;
      }
    },
  };
}

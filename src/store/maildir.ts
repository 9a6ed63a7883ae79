// Maildir mailboxes (https://cr.yp.to/proto/maildir.html) under <dataDir>/mail/<domain>/<local>/.
// A delivery streams the message into tmp/, fsyncs the file, links it into new/ (link refuses
// to overwrite; the tmp name is then removed) and fsyncs new/ before it resolves, so a resolved
// delivery survives a crash. Directory fsyncs are shared by deliveries that land in the same
// folder at once (group commit). Folder names come from addresses the directory validated;
// they are checked again here (no separators, no dot names) so no input can escape the root.
import { hostname as osHostname } from "node:os";
import { link, mkdir, open, rename, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import type { Log } from "../log/logger.js";

export interface StoredFile {
  /** Bytes written (prepended lines included). */
  readonly size: number;
  /** Full path of the file in new/. */
  readonly path: string;
}

export interface MaildirStore {
  /** The folder (Maildir root) of one mailbox. Throws for a name that is not a safe folder. */
  folder(domain: string, localPart: string): string;
  /**
   * Store prepend + message as one new message. Rejects (with the file system's error) when the
   * message could not be made durable; nothing is left in new/ in that case.
   */
  deliver(domain: string, localPart: string, message: Readable, prepend: Buffer): Promise<StoredFile>;
}

export interface MaildirOptions {
  /** Host name in file names; default os.hostname(). */
  readonly hostname?: string;
  /** Time source for file names (ms); default Date.now. Names need uniqueness, not a clock. */
  readonly now?: () => number;
}

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

function safeName(name: string, what: string): string {
  const n = name.toLowerCase();
  if (n.length === 0 || n.length > 255 || n === "." || n === ".." || /[/\\\0]/.test(n) || n.startsWith(".")) {
    throw new Error(`unsafe maildir ${what} name: ${JSON.stringify(name)}`);
  }
  return n;
}

// Maildir spec: "/" and ":" in the host name are written as \057 and \072.
const encodeHost = (h: string): string => h.replace(/\//g, "\\057").replace(/:/g, "\\072");

async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

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

export function createMaildirStore(root: string, log: Log, opts: MaildirOptions = {}): MaildirStore {
  const host = encodeHost(opts.hostname ?? osHostname());
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
      for (const d of chain) await syncDir(d);
      log.low("mailbox folder created", { folder: box });
    }
    ready.add(box);
  };

  const uniqueName = (): string => {
    const ms = now();
    const sec = Math.floor(ms / 1000);
    const usec = (ms % 1000) * 1000 + (counter % 1000);
    counter++;
    return `${sec}.M${usec}P${process.pid}Q${counter}.${host}`;
  };

  const write = async (tmpPath: string, message: Readable, prepend: Buffer): Promise<number> => {
    const fh = await open(tmpPath, "wx", FILE_MODE);
    let size = 0;
    try {
      if (prepend.length > 0) {
        await fh.write(prepend);
        size += prepend.length;
      }
      // One awaited write per chunk: the source is paused while the disk catches up.
      for await (const chunk of message) {
        const buf = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
        let off = 0;
        while (off < buf.length) {
          const { bytesWritten } = await fh.write(buf, off, buf.length - off);
          off += bytesWritten;
        }
        size += buf.length;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    return size;
  };

  const publish = async (tmpPath: string, newPath: string): Promise<void> => {
    try {
      await link(tmpPath, newPath);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // File systems without hard links: rename (the unique name makes a clash impossible).
      if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS" && code !== "EOPNOTSUPP") throw e;
      await rename(tmpPath, newPath);
      return;
    }
    await unlink(tmpPath);
  };

  const deliverOnce = async (domain: string, localPart: string, message: Readable, prepend: Buffer) => {
    const box = folder(domain, localPart);
    await ensure(box);
    const base = uniqueName();
    const tmpPath = join(box, "tmp", base);
    let size: number;
    try {
      size = await write(tmpPath, message, prepend);
    } catch (e) {
      await unlink(tmpPath).catch(() => undefined);
      throw e;
    }
    // S=<size> lets readers (Dovecot) know the size without a stat.
    const newPath = join(box, "new", `${base},S=${size}`);
    try {
      await publish(tmpPath, newPath);
      await syncDir(join(box, "new"));
    } catch (e) {
      // Not known durable: take it back out so a retry cannot make a second copy.
      await unlink(tmpPath).catch(() => undefined);
      await unlink(newPath).catch(() => undefined);
      throw e;
    }
    return { size, path: newPath };
  };

  return {
    folder,
    async deliver(domain, localPart, message, prepend) {
      try {
        return await deliverOnce(domain, localPart, message, prepend);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        const box = folder(domain, localPart);
        // Folder deleted after we cached it, and the stream is untouched: recreate and retry once.
        if (code === "ENOENT" && ready.has(box) && message.readableDidRead === false) {
          ready.delete(box);
          return deliverOnce(domain, localPart, message, prepend);
        }
        message.destroy();
        throw e;
      }
    },
  };
}

// Reading a Maildir mailbox (https://cr.yp.to/proto/maildir.html) for POP3: list the messages in
// new/ and cur/ with their sizes, read one, delete one (recorded in the Maildir++ maildirsize,
// maildirsize.ts), move one from new/ to cur/ once seen.
//
// Concurrency, honestly: deliveries only ever rename finished files into new/ (maildir.ts), so a
// listing never sees a half-written message, and a message delivered after a listing is simply
// not in it. Another reader (Dovecot, a second POP3 node on a shared mailDir) may move a message
// from new/ to cur/ or change its flags (the ":2,..." suffix) behind our back: every operation
// therefore finds the file again by its base name (the part before ":") when its path has gone.
// A message deleted by someone else reads as null and deletes as "gone"; neither is an error.
import { createHash } from "node:crypto";
import { readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { fsyncDir } from "./fs-calls.js";
import { changeRecorded } from "./maildirsize.js";

// File times are coarse (a kernel tick), so messages stored one after another often share an
// mtime: they are then ordered by the time in their names ("SEC.MUSEC…", maildir.ts), compared
// as numbers (the microseconds are not zero-padded, so "M100000" sorts before "M99000" as text),
// and by the whole name as text only after that.
const NAME_TIME = /^(\d+)\.M(\d+)/;
export function byDeliveryName(a: string, b: string): number {
  const x = NAME_TIME.exec(a);
  const y = NAME_TIME.exec(b);
  if (x !== null && y !== null) {
    const d = Number(x[1]) - Number(y[1]) || Number(x[2]) - Number(y[2]);
    if (d !== 0) return d;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface MaildirEntry {
  /** Base name: the file name up to the info part (":2,..."); stable across new/ → cur/. */
  readonly base: string;
  /** "new" or "cur" and the full file name there, as listed. */
  readonly sub: "new" | "cur";
  readonly file: string;
  /** File size in bytes. */
  readonly size: number;
  /** Modification time, ms (delivery order). */
  readonly mtime: number;
}

export interface MaildirReader {
  /**
   * Messages in new/ and cur/, oldest first; an absent mailbox is empty. A file that cannot be
   * examined is left out and handed to `unreadable`, so one bad file never hides the others.
   */
  list(box: string, unreadable?: (path: string, error: unknown) => void): Promise<MaildirEntry[]>;
  /** The message's bytes, or null when it is no longer there. */
  read(box: string, e: MaildirEntry): Promise<Buffer | null>;
  /** Remove it (and fsync its folder); "gone" when someone else already did. */
  remove(box: string, e: MaildirEntry): Promise<"removed" | "gone">;
  /** Move a new/ message to cur/ with the Seen flag (":2,S"); others are left as they are. */
  markSeen(box: string, e: MaildirEntry): Promise<void>;
}

/** The base name of a Maildir file name. */
export const baseName = (file: string): string => {
  const colon = file.indexOf(":");
  return colon < 0 ? file : file.slice(0, colon);
};

/** A unique id for a message: its base name, or a digest of it when that is not UIDL-safe. */
export function uniqueId(base: string): string {
  if (/^[\x21-\x7e]{1,70}$/.test(base)) return base;
  return createHash("sha256").update(base).digest("hex").slice(0, 40);
}

const missing = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === "ENOENT";

async function names(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if (missing(e)) return [];
    throw e;
  }
}

export function createMaildirReader(): MaildirReader {
  /** Where the message is now: the listed path, else wherever its base name is found. */
  const locate = async (box: string, e: MaildirEntry): Promise<string | null> => {
    const listed = join(box, e.sub, e.file);
    try {
      await stat(listed);
      return listed;
    } catch (err) {
      if (!missing(err)) throw err;
    }
    for (const sub of ["cur", "new"] as const) {
      const found = (await names(join(box, sub))).find((n) => baseName(n) === e.base);
      if (found !== undefined) return join(box, sub, found);
    }
    return null;
  };

  return {
    async list(box, unreadable) {
      const out: MaildirEntry[] = [];
      const seen = new Set<string>();
      for (const sub of ["cur", "new"] as const) {
        for (const file of await names(join(box, sub))) {
          if (file.startsWith(".")) continue;
          const base = baseName(file);
          // Caught mid-move by another reader: listed once.
          if (seen.has(base)) continue;
          const path = join(box, sub, file);
          try {
            const st = await stat(path);
            if (!st.isFile()) continue;
            seen.add(base);
            out.push({ base, sub, file, size: st.size, mtime: st.mtimeMs });
          } catch (err) {
            // Gone meanwhile: not a message any more. Anything else (EACCES, ELOOP, EIO): this
            // one file is unreadable, not the mailbox.
            if (!missing(err)) unreadable?.(path, err);
          }
        }
      }
      return out.sort((a, b) => a.mtime - b.mtime || byDeliveryName(a.base, b.base));
    },

    async read(box, e) {
      for (let attempt = 0; attempt < 2; attempt++) {
        const path = await locate(box, e);
        if (path === null) return null;
        try {
          return await readFile(path);
        } catch (err) {
          // Moved between locate and open: look once more.
          if (!missing(err)) throw err;
        }
      }
      return null;
    },

    async remove(box, e) {
      for (let attempt = 0; attempt < 2; attempt++) {
        const path = await locate(box, e);
        if (path === null) return "gone";
        try {
          // Maildir++ quota: the deletion lowers the usage everyone reads (maildirsize.ts).
          await changeRecorded(box, -e.size, -1, () => unlink(path));
          await fsyncDir(join(path, ".."));
          return "removed";
        } catch (err) {
          if (!missing(err)) throw err;
        }
      }
      return "gone";
    },

    async markSeen(box, e) {
      if (e.sub !== "new") return;
      const from = join(box, "new", e.file);
      const to = join(box, "cur", `${e.base}:2,S`);
      try {
        await rename(from, to);
      } catch (err) {
        // Someone else moved or removed it first: nothing to do.
        if (missing(err)) return;
        throw err;
      }
    },
  };
}

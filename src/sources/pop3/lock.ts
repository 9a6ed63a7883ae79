// One POP3 session per mailbox at a time (RFC 1939 §8: the maildrop is locked for exclusive
// access while the session is in the TRANSACTION state). Two layers: a set in this process, and
// a lock file in the Maildir root created with O_EXCL, so that two nodes sharing one mailDir
// (a dynamic cluster) exclude each other too. A lock file older than the longest possible
// session (the session timeout plus a margin) was left by a process that died: it is taken over.
import { open, readFile, stat, unlink, utimes } from "node:fs/promises";
import { join } from "node:path";
import type { Clock } from "../../world/clock.js";

export const LOCK_FILE = "mailyard-pop3.lock";
const STALE_MARGIN_MS = 60_000;

export interface MailboxLocks {
  /** A release function, or null when another session holds the mailbox. */
  acquire(box: string, owner: string): Promise<(() => Promise<void>) | null>;
}

export function createMailboxLocks(o: { clock: Clock; maxSessionMs: number }): MailboxLocks {
  const held = new Set<string>();
  const staleMs = (o.maxSessionMs > 0 ? o.maxSessionMs : 24 * 3600_000) + STALE_MARGIN_MS;

  const createFile = async (path: string, owner: string): Promise<boolean> => {
    try {
      const fh = await open(path, "wx", 0o600);
      try {
        await fh.writeFile(`${owner}\n`);
      } finally {
        await fh.close();
      }
      // The file's age is what staleness is judged by: on this clock.
      const at = o.clock.now() / 1000;
      await utimes(path, at, at);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EEXIST") return false;
      // No Maildir yet (no mail ever delivered): nothing to lock on disk.
      if (code === "ENOENT") return true;
      throw e;
    }
  };

  return {
    async acquire(box, owner) {
      if (held.has(box)) return null;
      held.add(box);
      const path = join(box, LOCK_FILE);
      try {
        let ok = await createFile(path, owner);
        if (!ok) {
          const st = await stat(path).catch(() => null);
          if (st === null || o.clock.now() - st.mtimeMs > staleMs) {
            await unlink(path).catch(() => undefined);
            ok = await createFile(path, owner);
          }
        }
        if (!ok) {
          held.delete(box);
          return null;
        }
      } catch (e) {
        held.delete(box);
        throw e;
      }
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        try {
          // Only our own file: a stale takeover by another node must not be undone here.
          const text = await readFile(path, "utf8").catch(() => "");
          if (text === `${owner}\n`) await unlink(path).catch(() => undefined);
        } finally {
          held.delete(box);
        }
      };
    },
  };
}

// A POP3 session's view of one mailbox (RFC 1939 §5–6): the messages listed at login, numbered
// from 1 in delivery order, their wire sizes and unique ids; deletion marks that only the
// UPDATE state (QUIT) applies, and RSET clears. Messages that arrive during the session are not
// in it (the numbering must not change, §5). Retrieved messages move from new/ to cur/ at QUIT.
import { join } from "node:path";
import { wireSize } from "../../proto/pop3.js";
import { uniqueId, type MaildirEntry, type MaildirReader } from "../../store/maildir-reader.js";

export interface DropMessage {
  readonly entry: MaildirEntry;
  readonly uid: string;
  /** Octets as sent (CRLF line endings, before dot-stuffing). */
  readonly size: number;
  deleted: boolean;
  seen: boolean;
}

export interface UpdateResult {
  readonly removed: number;
  /** Marked for deletion but already gone (someone else deleted them). */
  readonly gone: number;
  /** Could not be removed (file system error): they stay, and QUIT says so (§6). */
  readonly failed: number;
}

/** Wire sizes of messages already scanned: file name and size → octets on the wire. */
const sizeCache = new Map<string, number>();
const SIZE_CACHE_MAX = 50_000;

/** Dovecot's ",W=<n>" in a file name is the size with CRLF line endings. */
const dovecotWireSize = (file: string): number | null => {
  const m = /,W=(\d+)/.exec(file);
  return m ? Number(m[1]) : null;
};

export class Maildrop {
  private constructor(
    readonly box: string,
    private readonly reader: MaildirReader,
    readonly messages: DropMessage[],
  ) {}

  /**
   * A message file that cannot be read (permissions, I/O error) is left out of the maildrop and
   * reported to `unreadable` with its path: the rest of the mailbox stays usable.
   */
  static async open(
    box: string,
    reader: MaildirReader,
    unreadable: (path: string, error: unknown) => void = () => undefined,
  ): Promise<Maildrop> {
    const out: DropMessage[] = [];
    for (const entry of await reader.list(box, unreadable)) {
      const key = `${box}\0${entry.base}\0${entry.size}`;
      let size = sizeCache.get(key) ?? dovecotWireSize(entry.file);
      if (size === null || size === undefined) {
        let bytes: Buffer | null;
        try {
          bytes = await reader.read(box, entry);
        } catch (e) {
          unreadable(join(box, entry.sub, entry.file), e);
          continue;
        }
        if (bytes === null) continue;
        size = wireSize(bytes);
        if (sizeCache.size >= SIZE_CACHE_MAX) sizeCache.clear();
        sizeCache.set(key, size);
      }
      out.push({ entry, uid: uniqueId(entry.base), size, deleted: false, seen: false });
    }
    return new Maildrop(box, reader, out);
  }

  /** The message numbered n, or null (out of range or marked deleted). */
  get(n: number): DropMessage | null {
    const m = this.messages[n - 1];
    return m === undefined || m.deleted ? null : m;
  }

  /** Messages not marked deleted, and their total size (STAT). */
  stat(): { count: number; octets: number } {
    let count = 0;
    let octets = 0;
    for (const m of this.messages) {
      if (m.deleted) continue;
      count++;
      octets += m.size;
    }
    return { count, octets };
  }

  read(m: DropMessage): Promise<Buffer | null> {
    return this.reader.read(this.box, m.entry);
  }

  reset(): void {
    for (const m of this.messages) m.deleted = false;
  }

  /** The UPDATE state: remove what is marked, move what was seen to cur/. */
  async update(): Promise<UpdateResult> {
    let removed = 0;
    let gone = 0;
    let failed = 0;
    for (const m of this.messages) {
      try {
        if (m.deleted) {
          if ((await this.reader.remove(this.box, m.entry)) === "removed") removed++;
          else gone++;
        } else if (m.seen) await this.reader.markSeen(this.box, m.entry);
      } catch {
        if (m.deleted) failed++;
      }
    }
    return { removed, gone, failed };
  }
}

// The Submitted folder (the seed's PIPE module): *.sub files dropped there are submitted. A
// writer creates NAME.tmp (or writes elsewhere) and renames it to NAME.sub, so a complete name is
// a complete file; nothing else is read. After the submit resolves ok the file is deleted (and
// the folder fsync'd); a file that cannot be read as a message, or has no recipients, is renamed
// NAME.bad with the reason logged and never tried again; a temporary refusal leaves it for the
// next scan. fs.watch starts a scan at once, a poll every submitted.pollSeconds catches what
// watch misses (it is unreliable on network file systems and drops events under load).
//
// Delivery is at least once: a crash between the submit and the delete sends the file again at
// the next start. Files are untrusted input (any local writer): size-limited before reading.
import { watch, type FSWatcher } from "node:fs";
import { mkdir, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Log } from "../../log/logger.js";
import { isTemporary } from "../../proto/reply.js";
import type { Submitter } from "../../queue/submit.js";
import type { Clock } from "../../world/clock.js";
import { coalesced, repeatAfter } from "../../world/runs.js";
import type { Random } from "../../world/random.js";
import { fsyncDir } from "../../store/fs-calls.js";
import { completeHeader, draftFor } from "../message/envelope.js";
import { readSubFile } from "./sub-file.js";
import type { HeaderLimits } from "../../proto/header-limit.js";

export interface SubmittedFolderOptions {
  readonly dir: string;
  readonly pollMs: number;
  readonly maxMessageSize: number;
  /** smtp.maxHeaderBytes and smtp.maxHeaderFields: a file past them is refused (.bad). */
  readonly header?: HeaderLimits;
  readonly hostname: string;
  readonly submitter: Submitter;
  readonly clock: Clock;
  readonly random: Random;
  /** Tag PIPE. */
  readonly log: Log;
}

export interface SubmittedFolder {
  /** Scan now; resolves when every file found has been handled (tests, and the first scan). */
  scan(): Promise<void>;
  close(): Promise<void>;
}

/** Complete names only: NAME.sub, not hidden, not a path. */
const SUB = /^[^./][^/]*\.sub$/;

export async function startSubmittedFolder(o: SubmittedFolderOptions): Promise<SubmittedFolder> {
  await mkdir(o.dir, { recursive: true, mode: 0o770 });
  let closed = false;

  const bad = async (name: string, reason: string): Promise<void> => {
    const to = name.replace(/\.sub$/, ".bad");
    o.log.problem("submitted file refused", { file: name, reason, renamed: to, source: "submitted" });
    await rename(join(o.dir, name), join(o.dir, to));
    await fsyncDir(o.dir);
  };

  const one = async (name: string): Promise<void> => {
    const path = join(o.dir, name);
    const st = await stat(path);
    if (!st.isFile()) return;
    if (st.size > o.maxMessageSize) return bad(name, `larger than smtp.maxMessageSize (${st.size} bytes)`);
    const sub = readSubFile(await readFile(path), o.header);
    if (!sub.ok) return bad(name, sub.reason);
    const now = o.clock.now();
    const message = completeHeader(sub.message, {
      now,
      hostname: o.hostname,
      unique: o.random.bytes(12).toString("hex"),
    });
    const { draft, message: bytes } = draftFor(message, {
      source: sub.source,
      returnPath: sub.returnPath,
      recipients: sub.recipients,
      authUser: null,
      client: null,
      arrival: now,
      hostname: o.hostname,
      via: sub.source === "pipe" ? "sendmail, by way of the Submitted folder" : "Submitted folder",
      protocol: "local",
    });
    const r = await o.submitter.submit(draft, bytes);
    if (r.ok) {
      // Logged before the delete: the queue has the message whatever happens to the file now.
      o.log.major("submitted", {
        file: name,
        id: r.id,
        node: r.node,
        from: draft.returnPath,
        nrcpt: draft.recipients.length,
        size: bytes.length,
        source: draft.source,
      });
      await unlink(path);
      await fsyncDir(o.dir);
      return;
    }
    if (isTemporary(r.reply)) {
      o.log.problem("submit deferred, file kept", {
        file: name,
        reply: `${r.reply.code} ${r.reply.enhanced ?? ""} ${r.reply.text}`.replace(/ +/g, " "),
        source: draft.source,
      });
      return;
    }
    return bad(name, `${r.reply.code} ${r.reply.enhanced ?? ""} ${r.reply.text}`.replace(/ +/g, " "));
  };

  const pass = async (): Promise<void> => {
    let names: string[];
    try {
      names = (await readdir(o.dir)).filter((n) => SUB.test(n)).sort();
    } catch (e) {
      o.log.failure("cannot read the Submitted folder", { dir: o.dir, error: String(e) });
      return;
    }
    for (const name of names) {
      if (closed) return;
      try {
        await one(name);
      } catch (e) {
        // Gone meanwhile (another process, an operator): nothing to do. Anything else: next scan.
        if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
        o.log.failure("submitted file failed", { file: name, error: String(e) });
      }
    }
  };

  // One pass at a time; a request during a pass runs one more pass after it.
  const scans = coalesced(pass, () => closed);
  const scan = (): Promise<void> => scans.run();

  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(o.dir, { persistent: false }, (_event, name) => {
      if (!closed && (name === null || SUB.test(name))) void scan();
    });
    watcher.on("error", (e) => {
      o.log.problem("Submitted folder watch failed; polling only", { error: String(e) });
      watcher?.close();
      watcher = null;
    });
  } catch (e) {
    o.log.problem("Submitted folder watch failed; polling only", { error: String(e) });
  }
  o.log.major("watching the Submitted folder", { dir: o.dir, poll_seconds: o.pollMs / 1000 });
  void scan();
  const timer = repeatAfter(o.clock, o.pollMs, scan, () => closed);

  return {
    scan,
    async close() {
      closed = true;
      timer.cancel();
      watcher?.close();
      await scans.running;
    },
  };
}

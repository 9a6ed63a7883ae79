// The file-system calls of the per-message path (spool and Maildir), as promises over Node's
// callback API. fs/promises' FileHandle costs more main-thread time per call (a handle object
// with a GC finaliser, a heavier request per call): with the same open/writev/fdatasync/close/
// rename/unlink sequence, the callback API took about a third less event-loop time per message
// (docs/BENCHMARKS.md, "What each optimisation bought"). Descriptors are plain numbers: every
// caller closes what it opens, on every path.
import fs from "node:fs";
import { promisify } from "node:util";

export const openFd: (path: string, flags: string, mode?: number) => Promise<number> = promisify(fs.open);
export const closeFd: (fd: number) => Promise<void> = promisify(fs.close);
export const fchmodFd: (fd: number, mode: number) => Promise<void> = promisify(fs.fchmod);
export const fdatasyncFd: (fd: number) => Promise<void> = promisify(fs.fdatasync);
export const fsyncFd: (fd: number) => Promise<void> = promisify(fs.fsync);
export const renamePath: (from: string, to: string) => Promise<void> = promisify(fs.rename);
export const unlinkPath: (path: string) => Promise<void> = promisify(fs.unlink);

/** writev of every byte of `bufs` (a short write is finished plainly; a full disk errors instead). */
export function writevAll(fd: number, bufs: readonly Buffer[]): Promise<void> {
  let total = 0;
  for (const b of bufs) total += b.length;
  return new Promise<void>((resolve, reject) => {
    fs.writev(fd, bufs as Buffer[], (err, written) => {
      if (err) return reject(err);
      if (written === total) return resolve();
      writeRest(fd, Buffer.concat(bufs).subarray(written)).then(resolve, reject);
    });
  });
}

const writeSome = (fd: number, buf: Buffer, off: number): Promise<number> =>
  new Promise((resolve, reject) =>
    fs.write(fd, buf, off, buf.length - off, null, (err, n) => (err ? reject(err) : resolve(n))),
  );

async function writeRest(fd: number, rest: Buffer): Promise<void> {
  for (let off = 0; off < rest.length;) {
    const n = await writeSome(fd, rest, off);
    if (n <= 0) throw new Error("short write");
    off += n;
  }
}

/** fsync a directory: what makes a rename or a new entry in it durable. */
export async function fsyncDir(path: string): Promise<void> {
  const fd = await openFd(path, "r");
  try {
    await fsyncFd(fd);
  } finally {
    await closeFd(fd);
  }
}

/**
 * Writes `data` to a new (or truncated) file readable by the owner alone, flushed before it
 * resolves: its data ("data", fdatasync: enough for a file about to be renamed into place) or
 * its data and metadata ("all", fsync). The rename and the directory's fsync are the caller's.
 */
export async function writeSynced(path: string, data: string, sync: "data" | "all"): Promise<void> {
  const fd = await openFd(path, "w", 0o600);
  try {
    await writevAll(fd, [Buffer.from(data, "utf8")]);
    await (sync === "data" ? fdatasyncFd(fd) : fsyncFd(fd));
  } finally {
    await closeFd(fd);
  }
}

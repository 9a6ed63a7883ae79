// Group commit for directory fsyncs. A rename is durable only once its directory is fsynced; a
// busy server commits many messages at once, so every caller that asks while a sync is pending or
// in flight waits for the next sync that STARTS after its request, and all of them share it. The
// sync starts on the next turn of the event loop so renames finishing in the same turn coalesce.
// The directory stays open between syncs (one fsync call per sync instead of open, fsync,
// close); a failed sync closes it, so the next one starts from a fresh descriptor.
import { closeFd, fsyncFd, openFd } from "../store/fs-calls.js";

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
}

export class DirSync {
  private waiting: Waiter[] = [];
  private running = false;
  private scheduled = false;
  /** Directory fsyncs performed (group commit makes this smaller than the number of requests). */
  syncs = 0;
  requests = 0;

  private fd: number | null = null;

  constructor(private readonly dir: string) {}

  /** Close the kept descriptor (the spool is shutting down); a later sync reopens it. */
  async close(): Promise<void> {
    const fd = this.fd;
    this.fd = null;
    if (fd !== null) await closeFd(fd).catch(() => undefined);
  }

  private async syncOnce(): Promise<void> {
    this.fd ??= await openFd(this.dir, "r");
    try {
      await fsyncFd(this.fd);
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  /** Resolves once a directory fsync that began after this call has completed. */
  sync(): Promise<void> {
    this.requests++;
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.running || this.scheduled || this.waiting.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.run();
    });
  }

  private run(): void {
    if (this.running || this.waiting.length === 0) return;
    const batch = this.waiting;
    this.waiting = [];
    this.running = true;
    this.syncs++;
    void this.syncOnce()
      .then(
        () => {
          for (const w of batch) w.resolve();
        },
        (e: unknown) => {
          for (const w of batch) w.reject(e);
        },
      )
      .finally(() => {
        this.running = false;
        this.kick();
      });
  }
}

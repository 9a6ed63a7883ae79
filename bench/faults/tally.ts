// What a fault scenario counts, from what was really sent and really arrived: the load's 250s
// (test/kit/load.ts tags message i with Message-ID <load-i@load.test>) against the Message-IDs
// of the files in smtp-sink's dump directory and in Maildirs (new/ and cur/). Only the top
// header block is read, so a bounce quoting a message's headers is not taken for the message.
// A file's first arrival time is its ctime: the rename into new/ (Maildir) or the sink's last
// write, whichever the file is.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { runLoad, type LoadOptions, type LoadResult } from "../../test/kit/load.js";

const ID = /^Message-ID: <(load-\d+)@load\.test>\r?$/im;

/** The load tag of a stored message, from its top header block; null when it has none. */
export function loadTag(text: string): string | null {
  const end = text.search(/\r?\n\r?\n/);
  return ID.exec(end < 0 ? text : text.slice(0, end))?.[1] ?? null;
}

export interface Arrival {
  /** How many copies arrived. */
  count: number;
  /** Earliest ctime of a copy (ms since the epoch). */
  firstMs: number;
}

/** Every stored file under some roots (read once each, then cached), by load tag. */
export class Arrivals {
  private readonly known = new Map<string, { tag: string | null; ms: number }>();
  constructor(
    private readonly roots: () => readonly string[],
    private readonly accept: (path: string) => boolean = () => true,
  ) {}

  private async walk(dir: string, out: string[]): Promise<void> {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await this.walk(p, out);
      else if (e.isFile() && this.accept(p)) out.push(p);
    }
  }

  async scan(): Promise<Map<string, Arrival>> {
    const files: string[] = [];
    for (const r of this.roots()) await this.walk(r, files);
    for (const f of files) {
      if (this.known.get(f)?.tag != null) continue;
      // A file the sink is still writing may lack its headers yet: read again next time.
      const [text, st] = await Promise.all([
        readFile(f, "latin1").catch(() => ""),
        stat(f).catch(() => null),
      ]);
      if (st !== null) this.known.set(f, { tag: loadTag(text), ms: st.ctimeMs });
    }
    const out = new Map<string, Arrival>();
    for (const [f, { tag, ms }] of this.known) {
      if (tag === null || !files.includes(f)) continue;
      const a = out.get(tag);
      if (a === undefined) out.set(tag, { count: 1, firstMs: ms });
      else {
        a.count++;
        a.firstMs = Math.min(a.firstMs, ms);
      }
    }
    return out;
  }
}

/** Maildir messages only (new/ and cur/), not tmp/ or anything else under a mail root. */
export const inMaildir = (p: string): boolean => /[/\\](new|cur)[/\\][^/\\]+$/.test(p);

/** Several loads side by side, each ack timed, so "acknowledged before the fault" is known. */
export class Traffic {
  private readonly runs: { first: number; times: number[]; result: Promise<LoadResult> }[] = [];

  /**
   * Starts a load; `failover` (another member's port) takes what the first could not even try
   * because its member was gone, as a balancer would send it elsewhere.
   */
  send(o: LoadOptions, failover?: () => Promise<number>): void {
    const times: number[] = [];
    const first = o.firstIndex ?? 0;
    const onAck = (n: number): void => {
      times[n - 1] = Date.now();
      o.onAck?.(n);
    };
    const result = (async () => {
      const r = await runLoad({ ...o, onAck });
      const tried = r.acked.length + r.failed.length;
      if (failover === undefined || tried >= o.messages) return r;
      const offset = r.acked.length;
      const rest = await runLoad({
        ...o,
        port: await failover(),
        firstIndex: first + tried,
        messages: o.messages - tried,
        onAck: (n) => onAck(offset + n),
      });
      return {
        acked: [...r.acked, ...rest.acked],
        failed: [...r.failed, ...rest.failed],
        why: [...r.why, ...rest.why],
      };
    })();
    this.runs.push({ first, times, result });
  }

  /** Waits for every load: all tags acknowledged, refused, and when each ack came. */
  async done(): Promise<{ acked: string[]; failed: string[]; why: string[]; ackedAt: Map<string, number> }> {
    const rs = await Promise.all(this.runs.map((r) => r.result));
    const ackedAt = new Map<string, number>();
    rs.forEach((r, k) => r.acked.forEach((tag, i) => ackedAt.set(tag, this.runs[k]!.times[i] ?? Date.now())));
    return {
      acked: rs.flatMap((r) => r.acked),
      failed: rs.flatMap((r) => r.failed),
      why: rs.flatMap((r) => r.why),
      ackedAt,
    };
  }
}

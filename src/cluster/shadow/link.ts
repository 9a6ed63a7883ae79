// The sending side of shadow copies: one link per peer, one member session (the remote-submit
// handshake, submit/client.ts) kept open, one XSHADOW batch in flight at a time. Records handed
// in while a batch is on its way wait and leave together in the next one, so concurrent
// messages share one request and one fsync on the peer (group commit); a record resolves when
// the batch holding it is acknowledged. Lazy records (drops, state updates) wait for the next
// batch, or at most lazyMs, so they too leave in batches.
//
// A failed batch rejects its records (the caller decides: preferred answers 250 without a
// copy, required answers 451) and drops the connection; the next batch dials again. A batch
// that fails on a reused connection is sent once more on a fresh one (the peer may have closed
// it for idleness): applying a batch twice changes nothing on the peer.
import type { Log } from "../../log/logger.js";
import type { SmtpConnection } from "../../smtp/client/index.js";
import type { Clock, TimerHandle } from "../../world/clock.js";
import { openMemberSession, type RemoteSubmitClientOptions } from "../submit/client.js";
import { byteLength, encodeRecord, type ShadowRecord } from "./records.js";
import { shadowCommand } from "./verb.js";

export interface ShadowLinkOptions {
  readonly client: RemoteSubmitClientOptions;
  readonly clock: Clock;
  /** Longest wait for a batch's 250 (the peer fsyncs before it answers). */
  readonly timeoutMs: number;
  /** Records past this many bytes leave in the next batch (one record always fits). */
  readonly maxBatch: number;
  /** Drops and state updates wait at most this long for a batch to ride in. */
  readonly lazyMs: number;
  /** Tag QUEUE. */
  readonly log: Log;
}

export interface ShadowLink {
  readonly peer: string;
  /** Resolves once the peer has the records durable; rejects when the batch failed. */
  send(records: readonly ShadowRecord[], lazy?: boolean): Promise<void>;
  /** Send what waits (lazy records too) now; resolves when it has been answered either way. */
  flush(): Promise<void>;
  /** Batches acknowledged (tests and the bench read it). */
  readonly batches: () => number;
  close(): void;
}

interface Item {
  readonly bufs: Buffer[];
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export function shadowLink(
  peer: { readonly id: string; readonly smtp: string },
  o: ShadowLinkOptions,
): ShadowLink {
  let eager: Item[] = [];
  let lazy: Item[] = [];
  let busy = false;
  let scheduled = false;
  let closed = false;
  let conn: SmtpConnection | null = null;
  let lazyTimer: TimerHandle | null = null;
  let acked = 0;

  /** Every record handed in and not yet answered. */
  const unanswered = new Set<Promise<void>>();

  const drop = (): void => {
    conn?.destroy();
    conn = null;
  };

  const transmit = async (bufs: readonly Buffer[], bytes: number): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      const reused = conn !== null && conn.alive;
      if (!reused) {
        drop();
        const opened = await openMemberSession(o.client, peer);
        if (typeof opened === "string") throw new Error(opened);
        conn = opened;
      }
      const c = conn!;
      try {
        c.write(shadowCommand(bytes));
        for (const b of bufs) c.write(b);
        const r = await c.readReply(o.timeoutMs, "XSHADOW");
        if (r.code !== 250) {
          if (r.code >= 500) drop();
          throw new Refusal(`XSHADOW refused: ${r.code} ${r.text}`);
        }
        return;
      } catch (e) {
        if (e instanceof Refusal) throw e;
        drop();
        if (!reused || attempt > 0) throw e;
      }
    }
  };

  const pump = (): void => {
    if (busy || closed || eager.length === 0) return;
    // Lazy records ride along: they are cheaper in a batch that goes anyway.
    const all = [...lazy, ...eager];
    let take = 0;
    let bytes = 0;
    while (take < all.length && (take === 0 || bytes + all[take]!.bytes <= o.maxBatch))
      bytes += all[take++]!.bytes;
    const batch = all.slice(0, take);
    const wasLazy = new Set(lazy);
    const rest = all.slice(take);
    lazy = rest.filter((i) => wasLazy.has(i));
    eager = rest.filter((i) => !wasLazy.has(i));
    if (lazy.length === 0) {
      lazyTimer?.cancel();
      lazyTimer = null;
    }
    busy = true;
    void transmit(
      batch.flatMap((i) => i.bufs),
      bytes,
    )
      .then(
        () => {
          acked++;
          for (const i of batch) i.resolve();
        },
        (e: unknown) => {
          o.log.problem("shadow batch failed", { peer: peer.id, records: batch.length, error: errorText(e) });
          for (const i of batch) i.reject(e);
        },
      )
      .finally(() => {
        busy = false;
        pump();
      });
  };

  // Records handed in during this turn of the event loop leave together.
  const kick = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      pump();
    });
  };

  return {
    peer: peer.id,
    send(records, isLazy = false) {
      if (closed) return Promise.reject(new Error("shadow link closed"));
      const bufs = records.flatMap(encodeRecord);
      const p = new Promise<void>((resolve, reject) => {
        const item = { bufs, bytes: byteLength(bufs), resolve, reject };
        if (!isLazy) {
          eager.push(item);
          kick();
          return;
        }
        lazy.push(item);
        lazyTimer ??= o.clock.setTimeout(() => {
          lazyTimer = null;
          // Nothing eager came: the lazy records go on their own.
          if (lazy.length > 0) {
            eager.push(...lazy);
            lazy = [];
            kick();
          }
        }, o.lazyMs);
      });
      unanswered.add(p);
      const settle = (): void => void unanswered.delete(p);
      p.then(settle, settle);
      return p;
    },
    async flush() {
      if (lazy.length > 0) {
        lazyTimer?.cancel();
        lazyTimer = null;
        eager.push(...lazy);
        lazy = [];
        kick();
      }
      await Promise.allSettled([...unanswered]);
    },
    batches: () => acked,
    close() {
      closed = true;
      lazyTimer?.cancel();
      const gone = new Error("shadow link closed");
      for (const i of [...eager, ...lazy]) i.reject(gone);
      eager = [];
      lazy = [];
      if (conn !== null) {
        const c = conn;
        conn = null;
        void c.quit(1000).catch(() => undefined);
      }
    },
  };
}

class Refusal extends Error {}

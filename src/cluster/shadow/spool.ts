// Shadow copies on the primary (queue.shadow, issue 16): the node's spool with every committed
// queue file also sent to one live peer of the same role (link.ts), so that no acknowledged
// message depends on one disk. A commit resolves, and so the 250 is sent, only once both the
// local fsync and the peer's fsync of the copy are done (they run at the same time). When no
// copy can be made: `preferred` accepts anyway (logged and counted; the copy is made later when
// a peer is there), `required` refuses (the file is removed again, the client gets a 451).
// Recipient state changes and the end of a message (drop) follow the copy to its peer lazily,
// in batches: losing one only risks a duplicate, never a loss.
//
// The peer is the first of the live same-role members by rendezvous order on this node's id, so
// every member agrees who holds whose copies while membership is stable. When it changes,
// resync() moves every message's copy to the new peer, then tells the old ones to forget ours.
// A peer that may hold copies from before (this process just started, or it held some once) is
// sent a reset before anything else, so it never keeps copies of messages we have finished.
import { crc32 } from "node:zlib";
import type { Log } from "../../log/logger.js";
import type { Envelope, MessageState, RecipientState } from "../../queue/envelope.js";
import { encodeTail } from "../../queue/queue-file.js";
import type { FileSpool } from "../../queue/spool.js";
import type { SpoolWriter, StoredMessage } from "../../queue/types.js";
import type { Clock, TimerHandle } from "../../world/clock.js";
import { coalesced } from "../../world/runs.js";
import { rendezvousOrder } from "../rendezvous.js";
import type { ShadowLink } from "./link.js";
import type { ShadowRecord } from "./records.js";

export const SHADOW_MODES = ["preferred", "required", "off"] as const;
export type ShadowMode = (typeof SHADOW_MODES)[number];

export interface ShadowPeer {
  readonly id: string;
  readonly smtp: string;
}

export interface ShadowSpoolOptions {
  readonly mode: Exclude<ShadowMode, "off">;
  readonly selfId: string;
  /** Live members of this node's role, itself excluded, that can take copies (an SMTP address). */
  readonly peers: () => readonly ShadowPeer[];
  /** The link to a peer (the spool keeps one per peer). */
  readonly link: (peer: ShadowPeer) => ShadowLink;
  readonly clock: Clock;
  /** After a copy could not be made, try again this much later. */
  readonly retryMs: number;
  /** Tag QUEUE. */
  readonly log: Log;
  /** A message acknowledged without a copy (preferred, no peer or the peer failed). */
  readonly unprotected?: () => void;
  /**
   * Claims this node's spool epoch when the spool opens: the ids of entries a peer promoted
   * while this node was away (take-over), which are dropped or held as `takenEntries` says.
   */
  readonly claim?: () => Promise<ReadonlySet<string>>;
  readonly takenEntries?: "drop" | "hold";
}

/** Required mode and no copy could be made: the message is not accepted. */
export class NoShadowCopy extends Error {
  constructor(why: string) {
    super(`no shadow copy: ${why}`);
    this.name = "NoShadowCopy";
  }
}

export interface ShadowedSpool extends FileSpool {
  /** Bring every message's copy to the current peer; after joining and when members change. */
  resync(): Promise<void>;
  /** The peer holding a message's copy, if one does (tests, health). */
  holder(id: string): string | undefined;
  /** Messages whose copy is not on the current peer. */
  unprotected(): number;
  /** Send the drops and state updates still waiting, then close the links. */
  stopShadows(): Promise<void>;
}

interface Tracked {
  readonly envelope: Envelope;
  /** The state as the spool stores it, when it has been saved. */
  state: Buffer | null;
  holder: string | undefined;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
/** Messages re-sent per batch by resync (each one's bytes are held in memory meanwhile). */
const RESYNC_BATCH = 32;

export function shadowedSpool(inner: FileSpool, o: ShadowSpoolOptions): ShadowedSpool {
  const { log } = o;
  const tracked = new Map<string, Tracked>();
  const links = new Map<string, ShadowLink>();
  /** Peers known to hold none of our copies from before (a reset was sent, or nothing was ever sent). */
  const clean = new Set<string>();
  let retry: TimerHandle | null = null;
  let stopped = false;

  const linkTo = (peer: ShadowPeer): ShadowLink => {
    let l = links.get(peer.id);
    if (l === undefined) {
      l = o.link(peer);
      links.set(peer.id, l);
    }
    return l;
  };

  /** Send to a peer, a reset first when it may still hold copies from before. */
  const send = (peer: ShadowPeer, records: readonly ShadowRecord[], lazy = false): Promise<void> => {
    const l = linkTo(peer);
    let reset: Promise<void> = Promise.resolve();
    if (!clean.has(peer.id)) {
      clean.add(peer.id);
      reset = l.send([{ kind: "reset" }]);
      reset.catch((e: unknown) => {
        // Copies sent after it may be wiped by the next reset: send them again then.
        clean.delete(peer.id);
        for (const t of tracked.values()) if (t.holder === peer.id) t.holder = undefined;
        log.problem("shadow reset failed", { peer: peer.id, error: errorText(e) });
      });
    }
    return records.length === 0 ? reset : l.send(records, lazy);
  };

  const choose = (): ShadowPeer | null => {
    const peers = o.peers().filter((p) => p.id !== o.selfId && p.smtp !== "");
    const first = rendezvousOrder(
      o.selfId,
      peers.map((p) => p.id),
    )[0];
    return peers.find((p) => p.id === first) ?? null;
  };

  const later = (): void => {
    if (retry !== null || stopped) return;
    retry = o.clock.setTimeout(() => {
      retry = null;
      void resync();
    }, o.retryMs);
  };

  const stateRecord = (id: string, data: Buffer): ShadowRecord => ({ kind: "state", id, data: [data] });

  const readFile = async (t: Tracked): Promise<Buffer[]> => {
    const out: Buffer[] = [];
    let crc = 0;
    let len = 0;
    for await (const chunk of inner.body(t.envelope.id)) {
      const b = chunk as Buffer;
      out.push(b);
      crc = crc32(b, crc);
      len += b.length;
    }
    out.push(encodeTail(t.envelope, len, crc));
    return out;
  };

  async function resyncOnce(): Promise<void> {
    const peer = choose();
    if (peer === null) {
      if ([...tracked.values()].some((t) => t.holder === undefined)) later();
      return;
    }
    const todo = [...tracked.values()].filter((t) => t.holder !== peer.id);
    for (let i = 0; i < todo.length && !stopped; i += RESYNC_BATCH) {
      const part = todo.slice(i, i + RESYNC_BATCH).filter((t) => tracked.get(t.envelope.id) === t);
      const records: ShadowRecord[] = [];
      const sent: Tracked[] = [];
      for (const t of part) {
        let file: Buffer[];
        try {
          file = await readFile(t);
        } catch {
          continue; // Removed meanwhile.
        }
        records.push({ kind: "add", id: t.envelope.id, data: file });
        if (t.state !== null) records.push(stateRecord(t.envelope.id, t.state));
        sent.push(t);
      }
      if (records.length === 0) continue;
      try {
        await send(peer, records);
      } catch (e) {
        log.problem("shadow resync failed", { peer: peer.id, error: errorText(e) });
        later();
        return;
      }
      for (const t of sent) {
        if (tracked.get(t.envelope.id) === t) t.holder = peer.id;
        else void send(peer, [{ kind: "drop", id: t.envelope.id }], true).catch(() => undefined);
      }
    }
    if (todo.length > 0) log.low("shadow copies moved", { peer: peer.id, messages: todo.length });
    // Every copy is on `peer` now: the others may forget ours.
    for (const p of o.peers())
      if (p.id !== peer.id && p.id !== o.selfId && !clean.has(p.id)) void send(p, []).catch(() => undefined);
  }

  const resyncs = coalesced(resyncOnce, () => stopped);
  function resync(): Promise<void> {
    return stopped ? Promise.resolve() : resyncs.run();
  }

  const track = (envelope: Envelope, state: Buffer | null): Tracked => {
    const t: Tracked = { envelope, state, holder: undefined };
    tracked.set(envelope.id, t);
    return t;
  };

  class ShadowWriter implements SpoolWriter {
    private chunks: Buffer[] = [];
    private crc = 0;
    private len = 0;
    constructor(private readonly w: SpoolWriter) {}

    write(chunk: Buffer): Promise<void> {
      // Chunks are not reused by their producer (spool-writer.ts keeps them too).
      this.chunks.push(chunk);
      this.crc = crc32(chunk, this.crc);
      this.len += chunk.length;
      return this.w.write(chunk);
    }

    async commit(envelope: Envelope): Promise<void> {
      const file = [...this.chunks, encodeTail(envelope, this.len, this.crc)];
      this.chunks = [];
      const peer = choose();
      if (peer === null) {
        if (o.mode === "required") throw new NoShadowCopy("no live peer of this role");
        await this.w.commit(envelope);
        track(envelope, null);
        // Expected on a member alone in its role: not a problem worth a record per message.
        log.low("message accepted without a shadow copy", { id: envelope.id, reason: "no live peer" });
        o.unprotected?.();
        return;
      }
      const [local, remote] = await Promise.allSettled([
        this.w.commit(envelope),
        send(peer, [{ kind: "add", id: envelope.id, data: file }]),
      ]);
      if (local.status === "rejected") {
        if (remote.status === "fulfilled")
          void send(peer, [{ kind: "drop", id: envelope.id }], true).catch(() => undefined);
        throw local.reason;
      }
      const t = track(envelope, null);
      if (remote.status === "fulfilled") {
        t.holder = peer.id;
        return;
      }
      const why = errorText(remote.reason);
      if (o.mode === "required") {
        tracked.delete(envelope.id);
        await inner.remove(envelope.id);
        throw new NoShadowCopy(why);
      }
      log.problem("message accepted without a shadow copy", { id: envelope.id, peer: peer.id, error: why });
      o.unprotected?.();
      later();
    }

    abort(): Promise<void> {
      this.chunks = [];
      return this.w.abort();
    }
  }

  return {
    ...inner,

    async open(): Promise<StoredMessage[]> {
      const stored = await inner.open();
      const taken = (await o.claim?.()) ?? new Set<string>();
      const kept: StoredMessage[] = [];
      let given = 0;
      for (const m of stored) {
        if (taken.has(m.envelope.id)) {
          given++;
          if (o.takenEntries !== "hold") {
            await inner.remove(m.envelope.id);
            continue;
          }
          m.state = "held";
          await inner.saveState(m.envelope.id, "held", m.recipients);
        }
        // Whoever held these copies before this process started is sent a reset first (send()).
        track(m.envelope, null);
        kept.push(m);
      }
      if (given > 0)
        log.major("entries a peer took over while this node was away", {
          count: given,
          action: o.takenEntries === "hold" ? "held" : "dropped",
        });
      return kept;
    },

    async begin(id) {
      return new ShadowWriter(await inner.begin(id));
    },

    async saveState(id, state: MessageState, recipients: readonly RecipientState[]) {
      await inner.saveState(id, state, recipients);
      const t = tracked.get(id);
      if (t === undefined) return;
      t.state = Buffer.from(JSON.stringify({ state, recipients }));
      const peer = t.holder === undefined ? undefined : o.peers().find((p) => p.id === t.holder);
      if (peer !== undefined)
        send(peer, [stateRecord(id, t.state)], true).catch((e: unknown) =>
          log.low("shadow state update not sent", { id, peer: peer.id, error: errorText(e) }),
        );
    },

    async remove(id) {
      await inner.remove(id);
      const t = tracked.get(id);
      tracked.delete(id);
      const peer = t?.holder === undefined ? undefined : o.peers().find((p) => p.id === t.holder);
      // A holder that is down now is reset before it is used again (or forgets us at take-over).
      if (peer !== undefined)
        send(peer, [{ kind: "drop", id }], true).catch((e: unknown) =>
          log.low("shadow drop not sent", { id, peer: peer.id, error: errorText(e) }),
        );
      else if (t?.holder !== undefined) clean.delete(t.holder);
    },

    async close() {
      await inner.close();
    },

    resync,
    holder: (id) => tracked.get(id)?.holder,
    unprotected: () => {
      const peer = choose();
      return [...tracked.values()].filter((t) => t.holder === undefined || t.holder !== peer?.id).length;
    },
    async stopShadows() {
      stopped = true;
      retry?.cancel();
      retry = null;
      // Drops of messages finished just before the stop: without them a take-over while this
      // node is down would deliver those again.
      await Promise.all([...links.values()].map((l) => l.flush()));
      for (const l of links.values()) l.close();
      links.clear();
    },
  };
}

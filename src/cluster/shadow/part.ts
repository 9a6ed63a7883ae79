// Shadow copies as one part a cluster member plugs in (issue 16): the shadow directory it holds
// for its peers (store.ts) with the XSHADOW verb that fills it (verb.ts), and the wrapper that
// copies its own spool's messages to a peer (spool.ts, link.ts), and the take-over watch
// (takeover.ts). A member's standing (src/server/member.ts) makes it, wraps the spool with it,
// adds its verb to the member verbs, and once joined calls resync() (again whenever the members
// change) and startTakeover().
import { join } from "node:path";
import type { Settings } from "../../config/settings.js";
import type { MemberTls } from "../tls/member-tls.js";
import type { Log } from "../../log/logger.js";
import type { FileSpool } from "../../queue/spool.js";
import type { SessionApi, Verb } from "../../smtp/server/verb.js";
import type { Clock } from "../../world/clock.js";
import type { Dialer } from "../../world/dialer.js";
import { memberClientOptions } from "../submit/client-options.js";
import { shadowLink } from "./link.js";
import { shadowedSpool, type ShadowedSpool, type ShadowPeer } from "./spool.js";
import { createShadowStore, type ShadowStore } from "./store.js";
import { shadowVerb } from "./verb.js";
import type { ClusterState } from "../state.js";
import type { QueueManager } from "../../queue/manager.js";
import { claimSpool, startTakeover, type Takeover } from "./takeover.js";

/** Drops and state updates wait at most this long for a batch to ride in. */
const LAZY_MS = 200;
/** A copy that failed is tried again this much later. */
const RETRY_MS = 5_000;
/** Batches are cut at this size on the sender (a larger single message still goes alone). */
const BATCH_BYTES = 8 * 1024 * 1024;

export interface ShadowPart {
  /** The shadow directory this node holds for its peers. */
  readonly store: ShadowStore;
  /** The node's spool, copying to a peer (or the spool itself when queue.shadow is off). */
  readonly wrap: (spool: FileSpool) => FileSpool;
  /** The spool as wrapped, once wrap() has run and shadows are on. */
  spool(): ShadowedSpool | null;
  /** XSHADOW, for sessions authenticated as members. */
  readonly verbs: (memberOf: (s: SessionApi) => string | undefined) => Verb[];
  resync(): void;
  /** Start watching for silent members whose copies this node holds (after joining). */
  startTakeover(o: {
    readonly queue: Pick<QueueManager, "adopt" | "delete" | "hold">;
    readonly members: () => readonly { readonly id: string; readonly lastHeartbeat: number }[];
    readonly intervalMs: number;
  }): void;
  close(): Promise<void>;
}

export function createShadows(o: {
  readonly settings: Settings;
  /** Cluster TLS: the shadow links run over it (the remote-submit handshake). */
  readonly memberTls?: MemberTls | null;
  readonly dataDir: string;
  readonly clock: Clock;
  readonly dialer: Dialer;
  /** Live members of this node's role, itself included or not. */
  readonly peers: () => readonly ShadowPeer[];
  readonly state: Pick<ClusterState, "spoolEpoch" | "takeSpool" | "spoolTakeovers">;
  /** Tag QUEUE. */
  readonly log: Log;
  readonly unprotected?: () => void;
  readonly promoted?: (count: number) => void;
  readonly duplicates?: (count: number) => void;
}): ShadowPart {
  const { settings, log } = o;
  const q = settings.queue;
  const store = createShadowStore({
    dir: join(o.dataDir, "shadows"),
    maxMessages: q.shadowMaxMessages,
    maxBytes: q.shadowMaxBytes,
    log,
  });
  const maxBatch = Math.max(BATCH_BYTES, settings.smtp.maxMessageSize) + 1024 * 1024;
  let wrapped: ShadowedSpool | null = null;
  let token = 0;
  let takeover: Takeover | null = null;
  return {
    store,
    wrap: (own) => {
      // The shadow directory opens with the spool, before the listeners take XSHADOW.
      const spool: FileSpool = {
        ...own,
        open: async () => {
          await store.open();
          return own.open();
        },
      };
      if (q.shadow === "off") return spool;
      wrapped = shadowedSpool(spool, {
        mode: q.shadow,
        selfId: settings.node.id,
        peers: o.peers,
        clock: o.clock,
        retryMs: RETRY_MS,
        log,
        ...(o.unprotected !== undefined ? { unprotected: o.unprotected } : {}),
        takenEntries: q.takenEntries,
        claim: async () => {
          const r = await claimSpool({
            selfId: settings.node.id,
            state: o.state,
            dataDir: o.dataDir,
            now: () => o.clock.now(),
          });
          token = r.token;
          return r.ids;
        },
        link: (peer) =>
          shadowLink(peer, {
            client: memberClientOptions(settings, o, o.memberTls ?? null, q.shadowTimeoutSeconds * 1000),
            clock: o.clock,
            timeoutMs: q.shadowTimeoutSeconds * 1000,
            maxBatch: BATCH_BYTES,
            lazyMs: LAZY_MS,
            log,
          }),
      });
      return wrapped;
    },
    spool: () => wrapped,
    verbs: (memberOf) => [shadowVerb({ store, maxBatch, memberOf, log })],
    resync() {
      void wrapped?.resync();
    },
    startTakeover(t) {
      takeover = startTakeover({
        selfId: settings.node.id,
        dataDir: o.dataDir,
        state: o.state,
        store,
        members: t.members,
        clock: o.clock,
        leaseMs: q.takeoverLeaseSeconds * 1000,
        intervalMs: t.intervalMs,
        token,
        adopt: (m, body) => t.queue.adopt(m, body),
        taken: async (ids) => {
          for (const id of ids) await (q.takenEntries === "hold" ? t.queue.hold(id) : t.queue.delete(id));
        },
        log,
        ...(o.promoted !== undefined ? { promoted: o.promoted } : {}),
        ...(o.duplicates !== undefined ? { duplicates: o.duplicates } : {}),
      });
    },
    async close() {
      await takeover?.stop();
      await wrapped?.stopShadows();
      await store.close();
    },
  };
}

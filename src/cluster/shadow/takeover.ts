// Take-over (issue 16 item 2): when a member's heartbeat has lapsed past queue.takeoverLeaseSeconds,
// the peer holding its shadow copies takes its spool epoch in the cluster state (one
// transaction, compare-and-set on the token it read, so of two peers racing one wins, and a
// node that came back and claimed its epoch again makes a late take-over fail) and moves the
// copies into its own queue, with their recipient state (delivered recipients stay delivered,
// retry counts and warnings go on) and the envelope's DSN requests. The ids promoted are
// recorded with the new token.
//
// The other side: a node claims its epoch at start (claimSpool) and, when it finds it taken,
// drops or holds (queue.takenEntries) the entries whose copies were promoted, so a returning
// node does not deliver them a second time; while running it checks its epoch every beat (it
// may have been silent, not dead) and does the same. What remains possible is a message that
// was being delivered at the moment of death: its copy says not yet delivered. Those (the
// promoted messages that were due then) are counted as possible duplicates.
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Log } from "../../log/logger.js";
import { decodeTrailer, parseEnvelope, TRAILER_SIZE } from "../../queue/queue-file.js";
import { freshStates, parseState } from "../../queue/state-file.js";
import type { StoredMessage } from "../../queue/types.js";
import type { Clock } from "../../world/clock.js";
import { repeatAfter } from "../../world/runs.js";
import type { ClusterState } from "../state.js";
import { encodeRecord } from "./records.js";
import type { HeldShadow, ShadowStore } from "./store.js";

type EpochState = Pick<ClusterState, "spoolEpoch" | "takeSpool" | "spoolTakeovers">;

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const EPOCH_FILE = "spool-epoch";

async function readToken(dataDir: string): Promise<number> {
  const text = await readFile(join(dataDir, EPOCH_FILE), "utf8").catch(() => "");
  const n = Number(text.trim());
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

async function writeToken(dataDir: string, token: number): Promise<void> {
  // Lost in a crash, the older token is read next time: the take-overs since are applied again,
  // to ids already gone. No fsync needed.
  const tmp = join(dataDir, `${EPOCH_FILE}.tmp`);
  await writeFile(tmp, `${token}\n`, { mode: 0o600 });
  await rename(tmp, join(dataDir, EPOCH_FILE));
}

/**
 * Make this node's spool its own again: the ids peers promoted since this node last held it
 * (empty when nobody took it), and the epoch claimed with a greater token. Run before the queue
 * loads, so nothing promoted elsewhere is tried here.
 */
export async function claimSpool(o: {
  readonly selfId: string;
  readonly state: EpochState;
  readonly dataDir: string;
  readonly now: () => number;
}): Promise<{ ids: Set<string>; token: number }> {
  const mine = await readToken(o.dataDir);
  for (let attempt = 0; ; attempt++) {
    const epoch = await o.state.spoolEpoch(o.selfId);
    const current = epoch?.token ?? 0;
    if (epoch !== null && epoch.holder === o.selfId && current === mine)
      return { ids: new Set(), token: mine };
    const ids = new Set<string>();
    for (const t of await o.state.spoolTakeovers(o.selfId, mine)) for (const id of t.ids) ids.add(id);
    const claimed = await o.state.takeSpool(o.selfId, o.selfId, current, [], o.now());
    if (claimed !== null) {
      await writeToken(o.dataDir, claimed.token);
      return { ids, token: claimed.token };
    }
    // A peer took it between our read and our claim: read again.
    if (attempt >= 5) throw new Error("cannot claim this node's spool epoch: it keeps changing hands");
  }
}

export interface TakeoverOptions {
  readonly selfId: string;
  readonly dataDir: string;
  readonly state: EpochState;
  readonly store: ShadowStore;
  /** Every member this node knows, with its last heartbeat ([] before joining). */
  readonly members: () => readonly { readonly id: string; readonly lastHeartbeat: number }[];
  readonly clock: Clock;
  readonly leaseMs: number;
  /** How often lapsed members and this node's own epoch are looked at (a heartbeat). */
  readonly intervalMs: number;
  /** The token claimSpool got at start (0: none claimed, shadows off). */
  readonly token: number;
  /** Put a promoted copy into this node's queue; false when it is already there. */
  readonly adopt: (m: StoredMessage, message: Buffer) => Promise<boolean>;
  /** This node's own entries that a peer promoted while this node ran: drop or hold them. */
  readonly taken: (ids: readonly string[]) => Promise<void>;
  /** Tag QUEUE. */
  readonly log: Log;
  readonly promoted?: (count: number) => void;
  readonly duplicates?: (count: number) => void;
}

export interface Takeover {
  /** One look (the timer calls it; tests on a fake clock may too). */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

/** A copy as the queue takes it, or why it cannot be read. */
function storedOf(h: HeldShadow): { m: StoredMessage; body: Buffer } | string {
  if (h.file.length < TRAILER_SIZE) return "copy shorter than the trailer";
  const t = decodeTrailer(h.file.subarray(h.file.length - TRAILER_SIZE), h.file.length);
  if (typeof t === "string") return t;
  const envelope = parseEnvelope(h.file.subarray(t.offset, t.offset + t.length), t, h.id);
  if (typeof envelope === "string") return envelope;
  const parsed = h.state === null ? null : parseState(h.state, envelope.recipients.length);
  const st =
    parsed === null || typeof parsed === "string"
      ? { state: "active" as const, recipients: freshStates(envelope) }
      : parsed;
  return { m: { envelope, state: st.state, recipients: st.recipients }, body: h.file.subarray(0, t.offset) };
}

export function startTakeover(o: TakeoverOptions): Takeover {
  const { log } = o;
  let token = o.token;
  let running: Promise<void> | null = null;
  let stopped = false;
  let first = true;

  /** Move the copies of `origin` (those in `only`, when given) into this node's queue. */
  const promote = async (
    origin: string,
    only: ReadonlySet<string> | null,
    lastBeat: number,
  ): Promise<void> => {
    const held = (await o.store.read(origin)).filter((h) => only === null || only.has(h.id));
    let moved = 0;
    let due = 0;
    const done: string[] = [];
    for (const h of held) {
      const s = storedOf(h);
      if (typeof s === "string") {
        log.failure("shadow copy unreadable, not promoted", { node: origin, id: h.id, reason: s });
        continue;
      }
      try {
        if (await o.adopt(s.m, s.body)) moved++;
      } catch (e) {
        // Stays in the shadow directory: the next look tries again.
        log.failure("shadow copy not promoted", { node: origin, id: h.id, error: errorText(e) });
        continue;
      }
      done.push(h.id);
      // Due when the node died: it may have been delivering it, and the copy cannot say.
      if (
        s.m.state === "active" &&
        s.m.recipients.some((r) => r.status === "pending" && r.nextAttempt <= lastBeat + o.intervalMs)
      )
        due++;
    }
    if (done.length > 0)
      await o.store.apply(origin, Buffer.concat(done.flatMap((id) => encodeRecord({ kind: "drop", id }))));
    o.promoted?.(moved);
    if (due > 0) o.duplicates?.(due);
    log.major("spool taken over", { node: origin, messages: moved, possibleDuplicates: due });
  };

  const takeOver = async (origin: string, lastBeat: number): Promise<void> => {
    const epoch = await o.state.spoolEpoch(origin);
    const ids = o.store.ids(origin);
    if (ids.length === 0) return;
    const taken = await o.state.takeSpool(origin, o.selfId, epoch?.token ?? 0, ids, o.clock.now());
    if (taken === null) {
      log.low("take-over lost the race", { node: origin });
      return;
    }
    log.major("taking over a silent member's spool", {
      node: origin,
      token: taken.token,
      silentFor: o.clock.now() - lastBeat,
      messages: ids.length,
    });
    await promote(origin, new Set(ids), lastBeat);
  };

  /** After a restart: finish promotions recorded by this node that a crash cut short. */
  const finish = async (): Promise<void> => {
    for (const origin of o.store.origins()) {
      const mine = new Set(
        (await o.state.spoolTakeovers(origin, 0)).filter((t) => t.by === o.selfId).flatMap((t) => t.ids),
      );
      const held = new Set(o.store.ids(origin).filter((id) => mine.has(id)));
      if (held.size > 0) await promote(origin, held, 0);
    }
  };

  /** This node's own epoch, taken while it ran: give up what was promoted, claim it back. */
  const checkOwn = async (): Promise<void> => {
    if (token === 0) return;
    const epoch = await o.state.spoolEpoch(o.selfId);
    if (epoch === null || (epoch.holder === o.selfId && epoch.token === token)) return;
    const ids = (await o.state.spoolTakeovers(o.selfId, token)).flatMap((t) => t.ids);
    log.problem("this node's spool was taken over while it ran", {
      by: epoch.holder,
      token: epoch.token,
      messages: ids.length,
    });
    await o.taken(ids);
    const claimed = await o.state.takeSpool(o.selfId, o.selfId, epoch.token, [], o.clock.now());
    if (claimed !== null) {
      token = claimed.token;
      await writeToken(o.dataDir, token);
    }
  };

  const look = async (): Promise<void> => {
    if (first) {
      first = false;
      await finish();
    }
    await checkOwn();
    const now = o.clock.now();
    const members = new Map(o.members().map((m) => [m.id, m]));
    for (const origin of o.store.origins()) {
      const m = members.get(origin);
      if (m === undefined || origin === o.selfId) continue;
      if (now - m.lastHeartbeat > o.leaseMs) await takeOver(origin, m.lastHeartbeat);
    }
  };

  const tick = (): Promise<void> => {
    running ??= look()
      .catch((e: unknown) => log.failure("take-over check failed", { error: errorText(e) }))
      .finally(() => (running = null));
    return running;
  };

  const timer = repeatAfter(o.clock, o.intervalMs, tick, () => stopped);

  return {
    tick,
    async stop() {
      stopped = true;
      timer.cancel();
      await running;
    },
  };
}

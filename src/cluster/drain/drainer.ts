// The drained node's side of a drain (issue 16): while its request row is there (keys.ts) the
// node's mail listeners answer 421 to every new connection (so the balancer's SMTP check fails
// and clients go elsewhere), its queue delivers nothing (queue/handover.ts), and every message
// in it is handed to a live peer of its role over remote submit, removed here only after that
// peer's 250. Once the queue is empty the node writes its answer row (drained); mail that still
// arrives (a session open before the drain) is handed on too and the answer taken back until
// the queue is empty again. When the request row goes (an undrain), the queue delivers again
// and the listeners greet again.
//
// A round runs at a time: at each change of the settings, after each round that handed
// something on, and every interval (a peer may come back, a send may have failed).
import type { Log } from "../../log/logger.js";
import type { HandOver } from "../../queue/handover.js";
import type { EnvelopeDraft } from "../../queue/types.js";
import type { Clock, TimerHandle } from "../../world/clock.js";
import type { ClusterState } from "../state.js";
import type { RemoteSubmitResult } from "../submit/client.js";
import { doneAt, doneKey, doneValue, requestedAt, requestKey, type DrainState } from "./keys.js";

export interface DrainTarget {
  readonly id: string;
  readonly smtp: string;
}

export interface DrainerOptions {
  readonly selfId: string;
  readonly state: Pick<ClusterState, "getSetting" | "setSetting">;
  readonly queue: { readonly handOver: HandOver; size(): number };
  /** Live members of this node's role that take mail (not draining, not this node). */
  readonly peers: () => readonly DrainTarget[];
  readonly send: (to: DrainTarget, draft: EnvelopeDraft, message: Buffer) => Promise<RemoteSubmitResult>;
  readonly clock: Clock;
  readonly intervalMs: number;
  /** Messages sent at once. */
  readonly parallel: number;
  /** Tag QUEUE. */
  readonly log: Log;
}

export interface DrainStatus {
  readonly state: DrainState | null;
  readonly queue: number;
  readonly held: number;
  readonly handedOver: number;
}

export interface Drainer {
  /** Read the request row once, before the queue starts: a drained node starts drained. */
  init(): Promise<void>;
  /** Whether new connections are refused now (read by the listeners at each connection). */
  refusing(): boolean;
  /** The settings table as last read (the membership's): act on a drain or undrain. */
  update(settings: ReadonlyMap<string, string>): void;
  status(): DrainStatus;
  /** Start the timer (once the node has joined). */
  start(): void;
  /** Stop the timer and wait for a round under way. */
  stop(): Promise<void>;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export function createDrainer(o: DrainerOptions): Drainer {
  const { log, queue } = o;
  const { handOver } = queue;
  /** When the current request was made; null: not draining. */
  let request: number | null = null;
  /** The request the answer row now stands for (what this node wrote last). */
  let answered: number | null = null;
  let handed = 0;
  let round: Promise<void> | null = null;
  let again = false;
  let timer: TimerHandle | null = null;
  let stopped = false;
  /** Rounds run only once the node has joined (its queue loaded, its peers known). */
  let running = false;
  let turn = 0;

  const setRequest = (at: number | null, answer: number | null): void => {
    if (at === request) return;
    const was = request;
    request = at;
    answered = answer;
    if (at !== null) {
      log.major("draining: new connections refused, queue handed to peers", {
        node: o.selfId,
        messages: queue.size(),
      });
      kick();
    } else if (was !== null) {
      // Not while a round still sends: a message read for a peer must not be delivered here too.
      const resume = (): void => {
        if (request !== null) return;
        handOver.resume();
        log.major("undrained: taking mail again", { node: o.selfId, messages: queue.size() });
      };
      if (round === null) resume();
      else void round.then(resume);
    }
  };

  const kick = (): void => {
    if (stopped || !running) return;
    if (round !== null) {
      again = true;
      return;
    }
    round = runRound()
      .catch((e: unknown) => log.failure("drain round failed", { error: errorText(e) }))
      .finally(() => {
        round = null;
        if (again && request !== null) {
          again = false;
          kick();
        }
      });
  };

  async function sendOne(id: string, peers: readonly DrainTarget[]): Promise<boolean> {
    const read = await handOver.read(id);
    if (read === null) return false;
    const start = turn++;
    // Each message starts at the next peer; the others are its fallback.
    for (let k = 0; k < peers.length; k++) {
      const to = peers[(start + k) % peers.length]!;
      const r = await o.send(to, read.draft, read.message);
      if (r.ok) {
        if (await handOver.handedOver(id, to.id, r.id)) handed++;
        return true;
      }
      log.problem("drain: hand-over failed", { id, to: to.id, reason: r.reason });
      // A 5xx to the message itself (a peer's filter or rule refused it) would be the same on
      // every peer: it stays here for the operator.
      if (r.refused !== undefined) return false;
    }
    return false;
  }

  async function runRound(): Promise<void> {
    const at = request;
    if (at === null) return;
    await handOver.pause();
    const peers = o.peers();
    let moved = 0;
    const ids = handOver.handable();
    if (ids.length > 0 && peers.length === 0)
      log.problem("drain: no live peer of this role takes mail; the queue waits here", {
        messages: ids.length,
      });
    if (peers.length > 0) {
      for (let i = 0; i < ids.length && request === at && !stopped; i += o.parallel) {
        const done = await Promise.all(ids.slice(i, i + o.parallel).map((id) => sendOne(id, peers)));
        moved += done.filter((d) => d).length;
      }
    }
    if (request !== at) return;
    const empty = queue.size() === 0;
    if (empty && answered !== at) {
      await o.state.setSetting(doneKey(o.selfId), doneValue(at, o.clock.now()));
      answered = at;
      log.major("drained: the queue is empty", { node: o.selfId, handedOver: handed });
    } else if (!empty && answered === at) {
      await o.state.setSetting(doneKey(o.selfId), null);
      answered = null;
    }
    if (!empty && handOver.held() > 0 && moved === 0)
      log.problem("drain: held messages stay here; release or delete them", { held: handOver.held() });
    // Something moved: look again at once (more may have arrived meanwhile).
    if (moved > 0) again = true;
  }

  return {
    async init() {
      const text = await o.state.getSetting(requestKey(o.selfId));
      const rows = new Map<string, string>();
      if (text !== null) rows.set(requestKey(o.selfId), text);
      const done = await o.state.getSetting(doneKey(o.selfId));
      if (done !== null) rows.set(doneKey(o.selfId), done);
      const at = requestedAt(rows, o.selfId);
      if (at !== null) {
        // Before the queue starts: nothing is delivered here from the first moment.
        await handOver.pause();
        setRequest(at, doneAt(rows, o.selfId, at) === null ? null : at);
      }
    },
    refusing: () => request !== null,
    update(settings) {
      const at = requestedAt(settings, o.selfId);
      setRequest(at, at !== null && doneAt(settings, o.selfId, at) !== null ? at : null);
    },
    status: () => ({
      state: request === null ? null : answered === request ? "drained" : "draining",
      queue: queue.size(),
      held: handOver.held(),
      handedOver: handed,
    }),
    start() {
      running = true;
      if (request !== null) kick();
      const tick = (): void => {
        if (stopped) return;
        if (request !== null) kick();
        timer = o.clock.setTimeout(tick, o.intervalMs);
      };
      timer = o.clock.setTimeout(tick, o.intervalMs);
    },
    async stop() {
      stopped = true;
      timer?.cancel();
      timer = null;
      await round;
    },
  };
}

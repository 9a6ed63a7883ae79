// Handing the queue on (a drain, issue 16): deliveries paused, every message read out as a
// whole queue file for another member to take, and removed only once that member has it.
//
// Invariants: while paused no delivery starts here (a message is either delivered here or handed
// on, never both); a message is handed on only when none of its recipients is in a delivery and
// nothing is left to save or report for it (a bounce's DSN is sent from here first); only its
// pending recipients go, with their DSN requests (NOTIFY, ORCPT, RET, ENVID) and the arrival time
// (so expiry counts from the first receipt), which is all a remote submission carries: retry
// counts and delay warnings start again at the peer.
import type { QueueContext } from "./context.js";
import { needsSettle, type Entries, type Entry } from "./entries.js";
import type { Scheduler } from "./scheduler.js";
import type { EnvelopeDraft } from "./types.js";

export interface HandOver {
  /** Stop starting deliveries; resolves once those under way have finished and been recorded. */
  pause(): Promise<void>;
  /** Deliveries start again (an undrain). */
  resume(): void;
  readonly paused: boolean;
  /** Ids of the messages that can be handed on now (active, idle, settled), oldest first. */
  handable(): string[];
  /** Messages held by the operator (or a milter): never handed on, they stay for the operator. */
  held(): number;
  /** What to hand on for one message, or null when it cannot be now (gone, busy, corrupt). */
  read(id: string): Promise<{ draft: EnvelopeDraft; message: Buffer } | null>;
  /** The peer answered 250 (`to`, its id there): the message leaves this queue. */
  handedOver(id: string, to: string, theirId: string): Promise<boolean>;
}

export interface HandOverDeps {
  readonly entries: Entries;
  readonly scheduler: Scheduler;
  readonly wakeUp: (e: Entry) => void;
  readonly settle: (e: Entry, delays: number[]) => Promise<void>;
  /** Whether the manager was started (and not stopped): only then does resume start anything. */
  readonly started: () => boolean;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

export function createHandOver(ctx: QueueContext, deps: HandOverDeps): HandOver {
  const { spool, log } = ctx;
  const { entries, scheduler } = deps;
  let paused = false;

  const idle = (e: Entry): boolean => !e.gone && e.state === "active" && !e.busy.some((b) => b);

  return {
    get paused() {
      return paused;
    },
    async pause() {
      if (!paused) {
        paused = true;
        ctx.running = false;
        scheduler.stop();
        log.major("deliveries paused for a drain", { messages: entries.byId.size });
      }
      await ctx.whenIdle();
      // Jobs queued but not started (and routings finished while pausing) give their recipients back.
      scheduler.unqueue();
    },
    resume() {
      if (!paused) return;
      paused = false;
      if (!deps.started()) return;
      ctx.running = true;
      for (const e of [...entries.byId.values()]) deps.wakeUp(e);
      log.major("deliveries resumed", { messages: entries.byId.size });
    },
    handable() {
      const out: string[] = [];
      for (const e of entries.byId.values()) {
        if (!idle(e)) continue;
        // Something to save or report first (a bounce's DSN): that is done here, then it is handed on.
        if (needsSettle(e)) ctx.track(deps.settle(e, []));
        else out.push(e.envelope.id);
      }
      return out.sort();
    },
    held: () => [...entries.byId.values()].filter((e) => !e.gone && e.state === "held").length,
    async read(id) {
      const e = entries.byId.get(id);
      if (e === undefined || !idle(e) || needsSettle(e)) return null;
      // Never hand on bytes that are not the ones received (the spool quarantines them).
      const corrupt = await spool.verify(id);
      if (corrupt !== null) {
        entries.forget(e);
        ctx.metrics.messageQuarantined?.();
        return null;
      }
      const message = await readAll(spool.body(id));
      const { id: _id, size: _size, ...rest } = e.envelope;
      const recipients = e.envelope.recipients.filter((_, i) => e.recipients[i]?.status === "pending");
      return { draft: { ...rest, recipients }, message };
    },
    async handedOver(id, to, theirId) {
      const e = entries.byId.get(id);
      if (e === undefined) return false;
      await entries.remove(e, "deleted");
      log.major("message handed over", { id, to, theirId });
      return true;
    },
  };
}

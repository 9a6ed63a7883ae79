// Parts the composition root (compose.ts) builds every role's node from: the base (the world,
// the login gates on the shared throttle rows, the WebAdmin's log tee, the data directory), the
// rules the mailbox channel runs, whose generated mail goes through the node's Submitter once
// it exists, and the durable queue on dataDir/queue. What is opened is added to the start's Teardown.
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { recordStateLocation } from "../config/member-state.js";
import type { Settings } from "../config/settings.js";
import type { DeliveryRules } from "../delivery/rules-hook.js";
import type { Directory } from "../directory/directory.js";
import { expandRecipient } from "../directory/expand.js";
import type { Log, LogSink, Tag } from "../log/logger.js";
import type { Metrics } from "../log/metrics.js";
import { REPLIES } from "../proto/reply.js";
import { createQueueManager, type QueueManager } from "../queue/manager.js";
import { createSpool, type FileSpool } from "../queue/spool.js";
import type { Submitter } from "../queue/submit.js";
import type { Deliverer } from "../queue/types.js";
import type { RuleStore } from "../rules/store.js";
import { loginGates, type LoginGates } from "./login-gates.js";
import { nodeWorld, type NodeOptions, type NodeWorld } from "./start-options.js";
import { openThrottleRowsFor } from "./state-stores.js";
import type { Teardown } from "./teardown.js";
import { prepareWebAdmin, type NodeWebAdmin } from "./webadmin.js";

export interface NodeBase {
  readonly world: NodeWorld;
  readonly gates: LoginGates;
  readonly webadmin: NodeWebAdmin;
  /** The node's log sink, teed into the WebAdmin's log viewer. */
  readonly log: LogSink;
  /** Tag SYSTEM. */
  readonly sys: Log;
  readonly dataDir: string;
}

/** What every node opens first. `throttleTag` tags the throttle store's own log. */
export async function openNodeBase(
  settings: Settings,
  opts: NodeOptions,
  teardown: Teardown,
  throttleTag: Tag,
): Promise<NodeBase> {
  const world = nodeWorld(opts.world);
  // Failed logins are counted in the shared state, by every way in and on every member
  // (login-gates.ts).
  const throttleRows = await openThrottleRowsFor(settings, world.clock, opts.log.for(throttleTag));
  teardown.add(() => throttleRows.close());
  const gates = loginGates(settings, world.clock, throttleRows);
  const webadmin = await prepareWebAdmin(settings, opts.log, world.clock, gates.admin);
  teardown.add(() => webadmin.close());
  // Everything logs through the teed sink, so the WebAdmin's log viewer sees every record.
  const log = webadmin.log;
  const dataDir = resolve(settings.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // So CLI commands run with this dataDir alone act on this node's state (config/member-state.ts).
  await recordStateLocation(settings);
  return { world, gates, webadmin, log, sys: log.for("SYSTEM"), dataDir };
}

/**
 * Account and domain rules at the mailbox. What they generate is submitted through
 * `submitter()`, which is null until the node has made its Submitter (after the queue): until
 * then a generated message is refused with a 4xx, and the delivery retried.
 */
export function deliveryRules(o: {
  readonly store: RuleStore;
  /** Whose server rules apply (node.id). */
  readonly nodeId: string;
  readonly log: LogSink;
  readonly world: NodeWorld;
  readonly submitter: () => Submitter | null;
}): DeliveryRules {
  return {
    store: o.store,
    nodeId: o.nodeId,
    log: o.log.for("RULES"),
    pause: o.world.pause,
    submit: (draft, message) => {
      const submitter = o.submitter();
      return submitter === null
        ? Promise.resolve({ ok: false, reply: REPLIES.nodeStarting })
        : submitter.submit(draft, message);
    },
  };
}

/** The node's spool and queue manager (not started). */
export function createNodeQueue(o: {
  readonly settings: Settings;
  readonly dataDir: string;
  readonly world: NodeWorld;
  readonly log: LogSink;
  readonly metrics: Metrics;
  readonly deliverer: Deliverer;
  /** What the queue expands the recipients of generated mail with (DSNs, forwards). */
  readonly directory: Pick<Directory, "lookup" | "getAccount">;
  /** A cluster member's spool also copies each message to a peer (src/cluster/shadow). */
  readonly wrapSpool?: (spool: FileSpool) => FileSpool;
}): { spool: FileSpool; queue: QueueManager } {
  const own = createSpool(join(o.dataDir, "queue"), o.log.for("QUEUE"));
  const spool = o.wrapSpool?.(own) ?? own;
  const queue = createQueueManager({
    spool,
    deliverer: o.deliverer,
    settings: o.settings,
    clock: o.world.clock,
    random: o.world.random,
    log: o.log.for("QUEUE"),
    metrics: o.metrics,
    hostname: o.settings.hostname,
    // Unexpandable (unknown, looping) or unreadable: keep the address; the channel decides.
    expand: async (address) => {
      const ex = await expandRecipient(o.directory, address, { maxDepth: 10, maxTargets: 100 }).catch(
        () => null,
      );
      return ex?.kind === "ok" ? ex.targets.map((t) => t.address) : [address];
    },
  });
  return { spool, queue };
}

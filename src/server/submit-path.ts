// A cluster member's Submit Messages path (src/cluster/submit/): the local submitter (its own
// queue), the submitter its message sources and Remotely sessions use, and the XMEMBER/XSUBMIT
// verbs its SMTP listener adds so other members can hand their mail to it.
import { nonce } from "../cluster/secret.js";
import { memberClientOptions } from "../cluster/submit/client-options.js";
import { clusterSubmitter } from "../cluster/submit/submitter.js";
import { remoteSubmitVerbs } from "../cluster/submit/verbs.js";
import type { SubmitView } from "../cluster/submit/view.js";
import type { MemberTls } from "../cluster/tls/member-tls.js";
import type { Settings } from "../config/settings.js";
import type { LogSink } from "../log/logger.js";
import { REPLIES } from "../proto/reply.js";
import { localSubmitter } from "../queue/local-submit.js";
import type { Submitter } from "../queue/submit.js";
import type { Queue } from "../queue/types.js";
import type { SessionApi, Verb } from "../smtp/server/verb.js";
import { filteredAccept } from "./milter-wiring.js";
import type { MilterOptions } from "../inbound/milters.js";
import type { NodeWorld } from "./start-options.js";

export interface SubmitPath {
  readonly submitter: Submitter;
  /** For the SMTP (MX port) listeners. */
  readonly smtpVerbs: readonly Verb[];
}

/** How this node hands a queue file to another member (remote submit; a drain's hand-over). */
export function createSubmitPath(o: {
  readonly settings: Settings;
  readonly queue: Queue;
  readonly world: NodeWorld;
  readonly log: LogSink;
  /** Null until the node has joined. */
  readonly view: () => SubmitView | null;
  /** Frontends with smtp.milters: what other members hand over is filtered here (once). */
  readonly milters?: MilterOptions | null;
  /** More verbs for authenticated members (the shadow copies' XSHADOW). */
  readonly memberVerbs?: (memberOf: (s: SessionApi) => string | undefined) => readonly Verb[];
  /** Cluster TLS: remote submit over it, both ways. */
  readonly memberTls?: MemberTls | null;
}): SubmitPath {
  const { settings } = o;
  const log = o.log.for("SUBMIT");
  const local = localSubmitter(o.queue, {
    nodeId: settings.node.id,
    maxMessages: settings.queue.maxMessages,
    log,
  });
  const submitter = clusterSubmitter({
    view: o.view,
    local,
    client: memberClientOptions(settings, o.world, o.memberTls ?? null),
    maxTries: settings.cluster.submitTries,
    log,
  });
  // Other members' mail, handed over with XSUBMIT, goes into this node's own queue.
  const smtpVerbs = remoteSubmitVerbs({
    secret: settings.cluster.secret,
    certificates: o.memberTls != null,
    nonce,
    maxMessageSize: settings.smtp.maxMessageSize,
    log,
    ...(o.memberVerbs !== undefined ? { memberVerbs: o.memberVerbs } : {}),
    accept: async (draft, message, from) => {
      if (o.milters != null) return filteredAccept(o.milters, o.queue, draft, message, from, log);
      const r = await local.submit(draft, message);
      if (!r.ok) return r.reply;
      log.low("remote submission queued", { from, id: r.id, source: draft.source });
      return REPLIES.queuedAs({ id: r.id });
    },
  });
  return { submitter, smtpVerbs };
}

// The Submit Messages path (DESIGN.md §2.3–2.4, seed "Remote Queue Processing"): how mail that a
// node composes or receives outside SMTP (the submission API, the sendmail pipe, the Submitted/
// folder, RPOP, POP3 XTND XMIT, account rules) reaches an enqueuer. A source hands the whole
// message to a Submitter and keeps its own copy (the request, the .sub file, the remote POP3
// message) until submit resolves ok: only then is the message durable in some member's queue.
//
// The Submitter decides where it goes: this node's queue (Locally / Locally for Others), or a
// live member whose setting is Locally for Others (Remotely), falling back to this node's queue
// when no such member takes it. Sources never see which.
import type { Reply } from "../proto/reply.js";
import type { EnvelopeDraft } from "./types.js";

export type SubmitResult =
  /** Durable (fsync'd) in the queue of `node`; `id` is its queue id there. */
  | { readonly ok: true; readonly id: string; readonly node: string; readonly remote: boolean }
  /** Not taken: a 4xx (queue full, disk error) or 5xx (no recipients, too big). Keep the copy. */
  | { readonly ok: false; readonly reply: Reply };

export interface Submitter {
  /**
   * Queue a whole message. `draft.source` tags it (envelope and logs); recipients are final or
   * are expanded by the enqueuer. Never rejects for an operational failure: that is a reply.
   */
  submit(draft: EnvelopeDraft, message: Buffer): Promise<SubmitResult>;
}

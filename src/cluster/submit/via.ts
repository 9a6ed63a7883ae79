// Which SMTP sessions' mail takes the Submit Messages path (submitter.ts) at the end of DATA
// instead of going straight into this node's queue: what the submission listener gets while the
// node's own setting is Remotely, so that a backend set so hands its users' mail to a member that
// is Locally for Others, as it does for its message sources. Mail on the MX port is the cluster's
// inbound mail, queued where it arrives.
import type { Submitter } from "../../queue/submit.js";
import type { SessionInfo } from "../../smtp/handler.js";
import type { SubmitView } from "./view.js";

/** The Submitter for a session's mail, or null for the queue; both known once the node has joined. */
export function submitVia(
  view: () => SubmitView | null,
  submitter: () => Submitter | null,
): (s: Pick<SessionInfo, "listener">) => Submitter | null {
  return (s) => (s.listener === "submission" && view()?.mode() === "Remotely" ? submitter() : null);
}

// Which frontends a backend relays through (smtp.forwardTo "*"): the live ones, each delivery
// starting at the next, so relayed mail spreads over them; the others follow in order as
// failover for that delivery.
import type { Membership } from "./membership.js";

/** The live frontends' SMTP addresses, rotated by one per call; empty when none is live. */
export function frontendRotation(members: Pick<Membership, "live">): () => string[] {
  let turn = 0;
  return () => {
    const live = members
      .live("frontend")
      .map((m) => m.smtp)
      .filter((s) => s !== "");
    if (live.length === 0) return [];
    const start = turn++ % live.length;
    return [...live.slice(start), ...live.slice(0, start)];
  };
}

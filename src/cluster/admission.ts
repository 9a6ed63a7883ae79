// What a backend's delivery channel admits at RCPT (src/channel/server.ts asks per recipient): an
// account the directory knows, that placement says is stored here, and, in a dynamic cluster,
// whose lease this backend holds or can take (leases.ts). A sender's view of the cluster may be
// behind ours (a home just moved), so everything but an unknown account is temporary.
import type { Directory } from "../directory/directory.js";
import type { Log } from "../log/logger.js";
import { REPLIES, type Reply } from "../proto/reply.js";
import type { LeaseKeeper } from "./leases.js";
import type { Placement } from "./placement.js";

/** null: admitted; else the reply for the recipient. */
export type Admission = (address: string) => Promise<Reply | null>;

export function backendAdmission(o: {
  readonly directory: Pick<Directory, "getAccount">;
  readonly placement: Pick<Placement, "targetFor">;
  /** Dynamic clusters only. */
  readonly keeper: Pick<LeaseKeeper, "open"> | null;
  readonly log: Log;
}): Admission {
  return async (address) => {
    try {
      if ((await o.directory.getAccount(address)) === null) return REPLIES.unknownUser;
    } catch (e) {
      o.log.problem("directory lookup failed", { to: address, error: String(e) });
      return REPLIES.directoryUnavailable;
    }
    const t = await o.placement.targetFor(address);
    if ("none" in t || !t.local) {
      o.log.problem("recipient not stored here", {
        to: address,
        where: "none" in t ? t.none : t.node.id,
      });
      return REPLIES.notHostedHere;
    }
    if (o.keeper !== null) {
      const held = await o.keeper.open(address);
      if (!held.ok) return REPLIES.accountHeld({ reason: held.reason });
    }
    return null;
  };
}

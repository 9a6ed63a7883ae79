// Who may claim which sender, decided at MAIL and at end of data (DESIGN.md §7, "sender bound to
// the login"). Authenticated sessions (smtp.senderLogin, as Postfix's
// reject_sender_login_mismatch): the envelope sender must be an address the account owns
// (directory/sender-owner.ts, the rule the submission API uses too), 553 5.7.1 at MAIL; with
// "enforce" every From: address must be owned as well, 550 5.7.1 at end of data, and the null
// sender passes only with an owned From:. Unauthenticated clients outside smtp.relayNetworks
// claiming a sender in a local domain: refused when that address does not exist
// (smtp.verifyLocalSenders) or always (smtp.localSenderFromOutside = reject), 550 5.7.1 at MAIL;
// the null sender (RFC 5321 §4.5.5: bounces) always passes. The directory questions go through
// InboundDirectory, so a frontend asks them over the cluster API and its cache, as for RCPT;
// a directory that cannot answer throws, and the caller answers 4xx (never a guess).
import type { InboundDirectory } from "../cluster/api/types.js";
import type { Settings } from "../config/settings.js";
import { ownsSender } from "../directory/sender-owner.js";
import { REPLIES, type Reply } from "../proto/reply.js";
import type { SessionInfo } from "../smtp/handler.js";
import type { FromField } from "./from-header.js";

export interface SenderPolicy {
  /** At MAIL: null when the envelope sender ("" = null sender) may be used, else the refusal. */
  envelope(s: SessionInfo, from: string): Promise<Reply | null>;
  /** Whether the From: check runs at end of data for this session. */
  checksHeader(s: SessionInfo): boolean;
  /** At end of data (only when checksHeader): null when the From: field passes, else the refusal. */
  header(s: SessionInfo, from: string, field: FromField): Promise<Reply | null>;
}

export interface SenderPolicyOptions {
  readonly settings: Settings;
  readonly directory: InboundDirectory;
  /** The client is in smtp.relayNetworks (on the MX listener): trusted like an MTA of ours. */
  readonly trusted: (s: SessionInfo) => boolean;
}

const notOwned = (user: string, address: string): Reply => REPLIES.senderNotOwned({ address, user });

const fromNotOwned = (user: string, address: string): Reply => REPLIES.fromNotOwned({ address, user });

export function createSenderPolicy(o: SenderPolicyOptions): SenderPolicy {
  const smtp = (): Settings["smtp"] => o.settings.smtp;

  const outside = async (from: string): Promise<Reply | null> => {
    const found = await o.directory.lookup(from);
    if (found.kind === "remote") return null;
    // Real users of a local domain submit authenticated; until SPF exists this is a setting.
    if (smtp().localSenderFromOutside === "reject") return REPLIES.localSenderFromOutside;
    if (smtp().verifyLocalSenders && found.kind === "unknown") return REPLIES.unknownLocalSender;
    return null;
  };

  return {
    async envelope(s, from) {
      const user = s.authUser;
      if (user === null) return from === "" || o.trusted(s) ? null : outside(from);
      if (smtp().senderLogin === "off" || from === "") return null;
      return (await ownsSender(o.directory, user, from)) ? null : notOwned(user, from);
    },

    checksHeader: (s) => s.authUser !== null && smtp().senderLogin === "enforce",

    async header(s, from, field) {
      const user = s.authUser;
      if (user === null) return null;
      switch (field.kind) {
        case "too-large":
          return REPLIES.fromUncheckable;
        case "none":
          // Nothing claimed beyond the envelope sender, which MAIL has checked; a null sender
          // speaks for nobody, so it needs a From: the account owns.
          return from === "" ? REPLIES.fromRequired : null;
        case "addresses": {
          if (field.addresses.length === 0) return REPLIES.fromUncheckable;
          for (const a of field.addresses) {
            if (!(await ownsSender(o.directory, user, a))) return fromNotOwned(user, a);
          }
          return null;
        }
      }
    },
  };
}

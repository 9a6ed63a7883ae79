// Which addresses an account may send as: the one ownership rule for every authenticated way of
// sending (SMTP MAIL FROM and From: in src/inbound/sender-policy.ts, the submission API in
// src/sources/api/routes.ts), as Postfix's reject_sender_login_mismatch with a login map.
// An account owns: its own address; every alias that delivers to it (the alias's expansion,
// nested aliases followed within the bounds RCPT uses, includes the account); and the addresses
// and "@domain" wildcards granted to it (Directory.grantSender). The address tested comes from
// an untrusted client; it is only compared and looked up, never stored.
import type { Directory } from "./directory.js";
import { expandRecipient } from "./expand.js";
import { addressKey, splitAddress } from "./address.js";

/** What the rule reads: on a frontend these are cluster API questions (cached like RCPT's). */
export type SenderDirectory = Pick<Directory, "lookup" | "getAccount" | "senderGrants">;

/** The same bounds as alias expansion at RCPT (src/inbound/handler.ts). */
const EXPANSION = { maxDepth: 10, maxTargets: 100 } as const;

/** Whether a grant list covers the address: the address itself, or "@" and its domain. */
export function grantCovers(grants: readonly string[], address: string): boolean {
  const a = addressKey(address);
  const { domain } = splitAddress(a);
  return grants.some((g) => g === a || (domain !== "" && g === `@${domain}`));
}

/** True when `account` (an authenticated login) may use `address` as its sender. */
export async function ownsSender(dir: SenderDirectory, account: string, address: string): Promise<boolean> {
  // Compared as the directory keys them: a From: may name an IDN as U-labels (proto/idna.ts).
  const me = addressKey(account);
  const a = addressKey(address);
  if (a === "" || me === "") return false;
  if (a === me) return true;
  if (grantCovers(await dir.senderGrants(me), a)) return true;
  const found = await dir.lookup(a);
  if (found.kind !== "alias") return false;
  const ex = await expandRecipient(dir, a, EXPANSION);
  return ex.kind === "ok" && ex.targets.some((t) => t.local && t.address === me);
}

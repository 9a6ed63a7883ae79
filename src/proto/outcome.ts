// Delivery outcomes are values. Each channel answers per recipient; only the queue turns a
// deferred recipient into a bounce (at expiry). Permanent needs positive evidence: a 5xx, an
// NXDOMAIN or null MX, a policy reject, a syntax or size limit. Everything else is temporary.
import type { Reply } from "./reply.js";

/** What failed: one recipient, the whole message, or the destination (so other messages wait too). */
export type Scope = "recipient" | "message" | "destination";

export type Outcome =
  | { readonly kind: "delivered"; readonly reply: Reply; readonly relay: string }
  | { readonly kind: "deferred"; readonly reply: Reply; readonly relay: string; readonly scope: Scope }
  | { readonly kind: "bounced"; readonly reply: Reply; readonly relay: string; readonly scope: Scope };

export const delivered = (reply: Reply, relay: string): Outcome => ({ kind: "delivered", reply, relay });
export const deferred = (reply: Reply, relay: string, scope: Scope = "recipient"): Outcome => ({
  kind: "deferred",
  reply,
  relay,
  scope,
});
export const bounced = (reply: Reply, relay: string, scope: Scope = "recipient"): Outcome => ({
  kind: "bounced",
  reply,
  relay,
  scope,
});

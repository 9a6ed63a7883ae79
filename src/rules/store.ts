// Where rule sets live: server-wide (one set per node: a cluster member's server rules run on
// that member alone), cluster-wide (every member), per domain and per account (the seed's
// model, stored in its text form), each account's Sieve script, and the reply memory that keeps
// vacation and Reply with from answering one sender twice within a period. Adapters: SQLite
// (sqlite-store.ts), on the directory's file; any other store implements the same contract.
import { toAsciiAddress, toAsciiDomain } from "../proto/idna.js";
import type { Rule } from "./seed/model.js";

export type RuleScope =
  /** The server-wide rules of one node (its node.id): applied where that node enqueues. */
  | { readonly kind: "server"; readonly node: string }
  | { readonly kind: "cluster" }
  | { readonly kind: "domain"; readonly name: string }
  | { readonly kind: "account"; readonly address: string };

export interface RuleStore {
  /** The rule set of a scope; [] when none was set. */
  getRules(scope: RuleScope): Promise<Rule[]>;
  /** Replaces the rule set of a scope ([] removes it). */
  setRules(scope: RuleScope, rules: readonly Rule[]): Promise<void>;
  /** The account's Sieve script, or null. */
  getSieve(account: string): Promise<string | null>;
  /** Stores (or with null removes) the account's script; the caller has validated it. */
  setSieve(account: string, script: string | null): Promise<void>;
  /** True when this account answered this sender under this handle and the period has not ended. */
  replied(account: string, handle: string, sender: string, now: number): Promise<boolean>;
  /** Records an answer until `until` (ms epoch); older entries are swept now and then. */
  remember(account: string, handle: string, sender: string, until: number): Promise<void>;
  /**
   * Atomically: when no answer is remembered for (account, handle, sender) at `now`, remember one
   * until `until` and resolve true; else false. Two deliveries racing for one reply: one wins.
   */
  claimReply(account: string, handle: string, sender: string, now: number, until: number): Promise<boolean>;
  close(): Promise<void>;
}

/** An account address as rule rows are keyed: lower-case, an IDN domain as A-labels (proto/idna.ts). */
export function ruleAddressKey(address: string): string {
  const a = address.trim().toLowerCase();
  return toAsciiAddress(a) ?? a;
}

/**
 * The key rows are stored under: "server:<node>", "cluster", "domain:<name>", "account:<address>".
 * Node ids are kept as given (they are compared exactly everywhere else, cluster/state.ts).
 */
export function scopeKey(scope: RuleScope): string {
  switch (scope.kind) {
    case "server":
      return `server:${scope.node}`;
    case "cluster":
      return scope.kind;
    case "domain":
      return `domain:${(toAsciiDomain(scope.name.trim()) ?? scope.name.trim()).toLowerCase()}`;
    case "account":
      return `account:${ruleAddressKey(scope.address)}`;
  }
}

/**
 * Before server rules were per node, one row under this key held "the" server rules, and every
 * member ran them. Adapters move it once (moveSharedServerRules) and nothing reads it after.
 */
export const SHARED_SERVER_KEY = "server";

/**
 * Where the old shared server rule set goes: to every member the cluster state has ever known
 * (each of them ran it until now, so none silently loses a rule it enforced; the operator then
 * removes it where it does not belong), or, when no member ever registered (a single server,
 * which does not register), to the node opening the store: a single server's own id, which its
 * CLI uses too.
 */
export function sharedServerTargets(members: readonly string[], opener: string): string[] {
  const ids = [...new Set(members.filter((m) => m.length > 0))];
  return ids.length > 0 ? ids.sort() : [opener];
}

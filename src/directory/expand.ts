// Alias and forwarder expansion: an address becomes the final recipients mail is delivered to.
// Aliases nest; a remote target (a forwarder) is final; an account is final; an unknown address
// in a local domain is passed on as a final local target so its delivery bounces with 5.1.1 for
// that target (as Postfix's local(8) does), rather than silently dropping it.
// Invariants: bounded depth and fan-out; a cycle never recurses (ancestors are tracked); each
// final target appears once. The directory's contents are operator input, not trusted to be
// acyclic.
import type { Directory } from "./directory.js";

export interface ExpandedTarget {
  /** Lower-case final address. */
  readonly address: string;
  /** In a local domain (goes to a mailbox), else remote (relayed). */
  readonly local: boolean;
}

export type Expansion =
  | { readonly kind: "ok"; readonly targets: readonly ExpandedTarget[] }
  /** The address itself is unknown in a local domain. */
  | { readonly kind: "unknown" }
  /** Aliases refer to each other (or nest deeper than maxDepth) and yield no final target. */
  | { readonly kind: "loop" }
  /** More than maxTargets final targets. */
  | { readonly kind: "too-many" };

export interface ExpandOptions {
  /** Nesting levels of aliases followed (e.g. 10). */
  readonly maxDepth: number;
  /** Most final targets one address may expand to. */
  readonly maxTargets: number;
}

class TooMany extends Error {}
class TooDeep extends Error {}

export async function expandRecipient(
  dir: Pick<Directory, "lookup" | "getAccount">,
  address: string,
  opts: ExpandOptions,
): Promise<Expansion> {
  const start = address.trim().toLowerCase();
  const first = await dir.lookup(start);
  switch (first.kind) {
    case "unknown":
      return { kind: "unknown" };
    case "remote":
      return { kind: "ok", targets: [{ address: start, local: false }] };
    case "account":
      return { kind: "ok", targets: [{ address: first.account.address, local: true }] };
    case "alias":
      break;
  }

  const out = new Map<string, ExpandedTarget>();
  // Addresses already expanded (an alias reached by two paths is expanded once: dedupe).
  const expanded = new Set<string>();
  let sawCycle = false;

  const add = (t: ExpandedTarget): void => {
    if (out.has(t.address)) return;
    if (out.size >= opts.maxTargets) throw new TooMany();
    out.set(t.address, t);
  };

  const visit = async (alias: string, targets: readonly string[], ancestors: Set<string>, depth: number) => {
    if (depth > opts.maxDepth) throw new TooDeep();
    expanded.add(alias);
    const path = new Set(ancestors).add(alias);
    for (const raw of targets) {
      const t = raw.trim().toLowerCase();
      if (t === alias) {
        // "Keep a copy": an alias listing itself delivers to the same-named account when one
        // exists (another adapter may allow both); otherwise the entry means nothing.
        const own = await dir.getAccount(t);
        if (own !== null) add({ address: own.address, local: true });
        else sawCycle = true;
        continue;
      }
      if (path.has(t)) {
        sawCycle = true;
        continue;
      }
      if (out.has(t) || expanded.has(t)) continue;
      const found = await dir.lookup(t);
      switch (found.kind) {
        case "remote":
          add({ address: t, local: false });
          break;
        case "account":
          add({ address: found.account.address, local: true });
          break;
        case "unknown":
          add({ address: t, local: true });
          break;
        case "alias":
          await visit(found.alias.address, found.alias.targets, path, depth + 1);
          break;
      }
    }
  };

  try {
    await visit(first.alias.address, first.alias.targets, new Set(), 1);
  } catch (e) {
    if (e instanceof TooMany) return { kind: "too-many" };
    if (e instanceof TooDeep) return { kind: "loop" };
    throw e;
  }
  if (out.size === 0) return sawCycle ? { kind: "loop" } : { kind: "unknown" };
  return { kind: "ok", targets: [...out.values()] };
}

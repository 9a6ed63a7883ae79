// Address syntax for what the directory stores: domains, account and alias addresses, alias
// targets. Input comes from operators (CLI, admin API) and is untrusted until it passes here.
// Invariant: everything returned is lower-case, and domains are A-labels (an IDN typed as
// U-labels is converted). Account and alias addresses are a strict
// dot-atom subset without "/" or "\" because the local part becomes a Maildir folder name;
// alias targets may be any dot-atom address (they can be remote).
import { toAsciiDomain } from "../proto/idna.js";
import { DirectoryError } from "./directory.js";

const MAX_ADDRESS = 254; // RFC 5321 §4.5.3.1.3 path limit minus the brackets
const MAX_LOCAL = 64; // RFC 5321 §4.5.3.1.1
const MAX_DOMAIN = 253;

// RFC 5322 atext, plus UTF-8 (RFC 6531) for internationalised local parts.
const ATOM = /^[a-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\uffff]+$/u;
// Mailbox names: atext without the path separators and without characters shells and
// Maildir flags treat specially.
const MAILBOX_ATOM = /^[a-z0-9!#$%&'*+\-=?^_`{|}~\u0080-\uffff]+$/u;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

export interface ParsedAddress {
  readonly address: string;
  readonly localPart: string;
  readonly domain: string;
}

/** A lower-cased domain name, or throws DirectoryError("invalid"). */
export function normalizeDomain(name: string): string {
  // IDNs are stored as A-labels, typed as U-labels or A-labels (proto/idna.ts says why); a bare
  // label ("localhost") is allowed for test setups.
  const d = toAsciiDomain(name.trim().replace(/\.$/, ""))?.toLowerCase() ?? "";
  if (d.length === 0 || d.length > MAX_DOMAIN || !d.split(".").every((l) => LABEL.test(l))) {
    throw new DirectoryError("invalid", `invalid domain name: ${JSON.stringify(name)}`);
  }
  return d;
}

/** A domain as the directory keys it, for lookups of names not validated (yet): A-labels, lower-case. */
export function domainKey(name: string): string {
  const d = name.trim().replace(/\.$/, "");
  return (toAsciiDomain(d) ?? d).toLowerCase();
}

/** An address as the directory keys it: lower-case, the domain in A-labels. */
export function addressKey(address: string): string {
  const { localPart, domain } = splitAddress(address);
  return address.includes("@") ? `${localPart}@${domain}` : localPart;
}

function dotAtom(local: string, atom: RegExp): boolean {
  return local.length > 0 && local.length <= MAX_LOCAL && local.split(".").every((p) => atom.test(p));
}

function parse(address: string, atom: RegExp, what: string): ParsedAddress {
  const a = address.trim().toLowerCase();
  const at = a.lastIndexOf("@");
  if (at <= 0 || at === a.length - 1 || a.length > MAX_ADDRESS) {
    throw new DirectoryError("invalid", `invalid ${what}: ${JSON.stringify(address)}`);
  }
  const localPart = a.slice(0, at);
  if (!dotAtom(localPart, atom))
    throw new DirectoryError("invalid", `invalid ${what}: ${JSON.stringify(address)}`);
  let domain: string;
  try {
    domain = normalizeDomain(a.slice(at + 1));
  } catch {
    throw new DirectoryError("invalid", `invalid ${what} (bad domain): ${JSON.stringify(address)}`);
  }
  return { address: `${localPart}@${domain}`, localPart, domain };
}

/** An account or alias address (a mailbox name on disk), or throws DirectoryError("invalid"). */
export function parseMailboxAddress(address: string): ParsedAddress {
  return parse(address, MAILBOX_ATOM, "address");
}

/** An alias target: any dot-atom address, local or remote. */
export function parseTargetAddress(address: string): ParsedAddress {
  return parse(address, ATOM, "alias target");
}

/**
 * A sender grant: an address ("x@domain", any dot-atom, local or foreign) or a whole domain
 * written "@domain". Lower-cased; throws DirectoryError("invalid").
 */
export function parseSenderGrant(text: string): string {
  const t = text.trim().toLowerCase();
  if (t.startsWith("@")) {
    try {
      return `@${normalizeDomain(t.slice(1))}`;
    } catch {
      throw new DirectoryError("invalid", `invalid sender grant (bad domain): ${JSON.stringify(text)}`);
    }
  }
  return parse(t, ATOM, "sender grant").address;
}

/** Lower-case and split without validating (for lookups of addresses SMTP already parsed). */
export function splitAddress(address: string): { localPart: string; domain: string } {
  const a = address.trim().toLowerCase();
  const at = a.lastIndexOf("@");
  return at < 0
    ? { localPart: a, domain: "" }
    : { localPart: a.slice(0, at), domain: domainKey(a.slice(at + 1)) };
}

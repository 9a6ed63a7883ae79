// MTA-STS (RFC 8461) as values: the `_mta-sts` TXT record (§3.1), the policy file (§3.2) and the
// MX patterns it lists (§4.1). mailauth has helpers for the same, but its matching lets
// "*.example.com" match "a.b.example.com" (§4.1: the wildcard stands for one label only), its
// fetch has no size limit and reads the wall clock; the fetch is in delivery/relay/mta-sts-fetch.ts,
// and these few lines are the parsing. Both inputs are untrusted: the record is bounded by DNS,
// the policy by the fetch's 64 KB limit; parsing is one pass over lines. No I/O.

export type StsMode = "enforce" | "testing" | "none";

export interface StsRecord {
  /** The policy id (§3.1: 1–32 letters and digits); a new one means a new policy to fetch. */
  readonly id: string;
}

export interface StsPolicy {
  readonly mode: StsMode;
  /** Patterns as written, lower-cased: "mx.example.com" or "*.example.com". */
  readonly mx: readonly string[];
  /** Seconds the policy may be cached (§3.2: at most 31557600). */
  readonly maxAge: number;
}

/** Longest policy file read (§3.3 suggests 64 KB). */
export const STS_POLICY_LIMIT = 64 * 1024;
const MAX_AGE_LIMIT = 31_557_600;

export type StsRecordAnswer =
  | { readonly kind: "record"; readonly record: StsRecord }
  /** No STSv1 record among the TXT records. */
  | { readonly kind: "none" }
  /** More than one, or one without a valid id (§3.1: treated as no policy, but worth a report). */
  | { readonly kind: "invalid"; readonly why: string };

/** The TXT records of `_mta-sts.DOMAIN`, each as its character-strings, joined (§3.1). */
export function parseStsRecord(records: readonly (readonly string[])[]): StsRecordAnswer {
  const sts = records.map((r) => r.join("")).filter((t) => /^v=STSv1\s*(;|$)/.test(t));
  if (sts.length === 0) return { kind: "none" };
  if (sts.length > 1) return { kind: "invalid", why: "more than one STSv1 TXT record" };
  let id: string | null = null;
  for (const field of sts[0]!.split(";")) {
    const eq = field.indexOf("=");
    if (eq < 0) continue;
    if (field.slice(0, eq).trim() === "id") id = field.slice(eq + 1).trim();
  }
  if (id === null || !/^[A-Za-z0-9]{1,32}$/.test(id))
    return { kind: "invalid", why: "the STSv1 record has no valid id" };
  return { kind: "record", record: { id } };
}

export type StsPolicyAnswer =
  | { readonly kind: "policy"; readonly policy: StsPolicy }
  | { readonly kind: "invalid"; readonly why: string };

/** The policy file's text (§3.2): "key: value" lines, CRLF or LF; unknown keys are ignored. */
export function parseStsPolicy(text: string): StsPolicyAnswer {
  if (text.length > STS_POLICY_LIMIT) return invalid("policy larger than 64 KB");
  let version: string | null = null;
  let mode: string | null = null;
  let maxAge: string | null = null;
  const mx: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === "version") version ??= value;
    else if (key === "mode") mode ??= value;
    else if (key === "max_age") maxAge ??= value;
    else if (key === "mx" && value !== "" && !mx.includes(value.toLowerCase())) mx.push(value.toLowerCase());
  }
  if (version !== "STSv1") return invalid("version is not STSv1");
  if (mode !== "enforce" && mode !== "testing" && mode !== "none")
    return invalid(`mode ${mode ?? "missing"} is not enforce, testing or none`);
  if (maxAge === null || !/^\d{1,10}$/.test(maxAge)) return invalid("max_age missing or not a number");
  const age = Math.min(Number(maxAge), MAX_AGE_LIMIT);
  if (mode !== "none" && mx.length === 0) return invalid("no mx patterns");
  return { kind: "policy", policy: { mode, mx, maxAge: age } };
}

const invalid = (why: string): StsPolicyAnswer => ({ kind: "invalid", why });

/**
 * Whether an MX host name matches one of the policy's patterns (§4.1): exactly, or "*." and
 * one label in its place (so "*.example.com" matches "mx.example.com", not "example.com" nor
 * "a.b.example.com"). Names compare case-insensitively, without a trailing dot.
 */
export function mxMatches(host: string, patterns: readonly string[]): boolean {
  const h = host.replace(/\.$/, "").toLowerCase();
  return patterns.some((p) => {
    const pat = p.replace(/\.$/, "");
    if (!pat.startsWith("*.")) return pat === h;
    const dot = h.indexOf(".");
    return dot > 0 && h.slice(dot + 1) === pat.slice(2);
  });
}

// Variables (RFC 5229): ${name} and ${N} substitution, and the set modifiers. Names are case
// insensitive; an unknown variable is the empty string; ${N} are the match variables of the last
// successful :matches / :regex test. Values are bounded so that a script cannot grow memory.

export const MAX_VALUE = 4096;

export class Variables {
  private readonly vars = new Map<string, string>();
  private matches: readonly string[] = [];

  get(name: string): string {
    if (/^[0-9]+$/.test(name)) return this.matches[Number(name)] ?? "";
    return this.vars.get(name.toLowerCase()) ?? "";
  }

  set(name: string, value: string): void {
    this.vars.set(name.toLowerCase(), value.slice(0, MAX_VALUE));
  }

  setMatches(captures: readonly string[]): void {
    this.matches = captures.slice(0, 10);
  }

  /** Substitutes ${…} in `s`; unparsable references stay as written (RFC 5229 §3). */
  expand(s: string): string {
    if (!s.includes("${")) return s;
    const out = s.replace(
      /\$\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|[0-9]+)\}/g,
      (_m, name: string) => (name.includes(".") ? "" : this.get(name)),
    );
    return out.slice(0, MAX_VALUE);
  }
}

/** Applies the set modifiers in RFC 5229 §4.1 order: length, quote, first letter, case. */
export function applyModifiers(value: string, mods: ReadonlySet<string>): string {
  let v = value;
  if (mods.has("lower")) v = v.toLowerCase();
  if (mods.has("upper")) v = v.toUpperCase();
  if (mods.has("lowerfirst")) v = v.charAt(0).toLowerCase() + v.slice(1);
  if (mods.has("upperfirst")) v = v.charAt(0).toUpperCase() + v.slice(1);
  if (mods.has("quotewildcard")) v = v.replace(/[*?\\]/g, "\\$&");
  if (mods.has("quoteregex")) v = v.replace(/[\\^$.[\]|()?*+{}]/g, "\\$&");
  if (mods.has("length")) v = String([...v].length);
  return v;
}

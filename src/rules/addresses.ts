// Addresses in header fields (RFC 5322 §3.4): "Name <a@b>", bare a@b, groups, comments. Lenient
// on purpose: rules test what users see, and a malformed field yields what can be recognised.
// Linear in the field's length: header fields are untrusted and up to smtp.maxHeaderBytes long.

export interface HeaderAddress {
  readonly address: string;
  readonly name: string;
}

/** The addresses in an address-list field value, in order. */
export function parseAddressList(value: string): HeaderAddress[] {
  const out: HeaderAddress[] = [];
  for (const part of splitTopLevel(stripComments(value))) {
    let p = part.trim();
    // group: "Team: a@b, c@d;" — the display name before ':' (outside quotes and <>) is dropped
    const g = /^[^"<>]*?:/.exec(p);
    if (g && !p.slice(0, g[0].length).includes("@")) p = p.slice(g[0].length).trim();
    p = p.replace(/;\s*$/, "").trim();
    if (p === "") continue;
    const angle = angleAddr(p);
    if (angle) {
      const name = p
        .slice(0, angle.index)
        .trim()
        .replace(/^"(.*)"$/, "$1");
      out.push({ address: angle.inner.trim().replace(/^@[^:]*:/, ""), name });
    } else {
      out.push({ address: p.replace(/^"(.*)"$/, "$1"), name: "" });
    }
  }
  return out;
}

/**
 * The first "<…>" of a part: from its first "<" to the first ">" after it, as /<([^>]*)>/ finds
 * it, in linear time (that expression, tried at every "<" of a field full of them, was quadratic
 * in the header: 100,000 "<" took seconds).
 */
export function angleAddr(p: string): { index: number; inner: string } | null {
  const open = p.indexOf("<");
  if (open < 0) return null;
  const close = p.indexOf(">", open + 1);
  return close < 0 ? null : { index: open, inner: p.slice(open + 1, close) };
}

function stripComments(v: string): string {
  let out = "";
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === "\\" && i + 1 < v.length) {
      if (depth === 0) out += c + v[i + 1]!;
      i++;
      continue;
    }
    if (!quoted && c === "(") depth++;
    else if (!quoted && c === ")" && depth > 0) depth--;
    else if (depth === 0) {
      if (c === '"') quoted = !quoted;
      out += c;
    }
  }
  return out;
}

function splitTopLevel(v: string): string[] {
  const parts: string[] = [];
  let cur = "";
  let quoted = false;
  let angle = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === "\\" && i + 1 < v.length) {
      cur += c + v[i + 1]!;
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === "<") angle = true;
    else if (!quoted && c === ">") angle = false;
    if (c === "," && !quoted && !angle) {
      parts.push(cur);
      cur = "";
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

export function localPart(address: string): string {
  const at = address.lastIndexOf("@");
  return at < 0 ? address : address.slice(0, at);
}

export function domainPart(address: string): string {
  const at = address.lastIndexOf("@");
  return at < 0 ? "" : address.slice(at + 1);
}

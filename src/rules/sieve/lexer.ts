// Sieve lexer (RFC 5228 §2.2–2.4, §8.1): identifiers, :tags, numbers with K/M/G, quoted strings,
// text: multi-line strings (dot-stuffed, ending with a lone "."), # and /* */ comments. Every
// token carries the line and column (1-based) where it starts, so that errors point into the
// script the user uploaded. Scripts are untrusted: lengths are bounded and nothing recurses.

export interface Position {
  readonly line: number;
  readonly column: number;
}

export type Token =
  | { readonly type: "identifier"; readonly value: string; readonly pos: Position }
  | { readonly type: "tag"; readonly value: string; readonly pos: Position }
  | { readonly type: "number"; readonly value: number; readonly pos: Position }
  | { readonly type: "string"; readonly value: string; readonly pos: Position; readonly multiline: boolean }
  | {
      readonly type: "punct";
      readonly value: "[" | "]" | "(" | ")" | "," | ";" | "{" | "}";
      readonly pos: Position;
    }
  | { readonly type: "eof"; readonly pos: Position };

export class SieveError extends Error {
  constructor(
    readonly reason: string,
    readonly pos: Position,
  ) {
    super(`line ${pos.line}, column ${pos.column}: ${reason}`);
  }
}

export const MAX_SCRIPT = 1 << 20;
const MAX_NUMBER = 2 ** 32 - 1;

export function tokenize(src: string): Token[] {
  if (src.length > MAX_SCRIPT) throw new SieveError("script too long", { line: 1, column: 1 });
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const pos = (at: number): Position => ({ line, column: at - lineStart + 1 });
  const newline = (at: number): void => {
    line++;
    lineStart = at + 1;
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === "\n") {
      newline(i);
      i++;
      continue;
    }
    if (c === " " || c === "\t" || c === "\r") {
      i++;
      continue;
    }
    if (c === "#") {
      while (i < src.length && src[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && src[i + 1] === "*") {
      const start = pos(i);
      const end = src.indexOf("*/", i + 2);
      if (end < 0) throw new SieveError("unterminated comment", start);
      for (let k = i; k < end; k++) if (src[k] === "\n") newline(k);
      i = end + 2;
      continue;
    }
    const at = pos(i);
    if ("[](),;{}".includes(c)) {
      tokens.push({ type: "punct", value: c as "[", pos: at });
      i++;
      continue;
    }
    if (c === '"') {
      let out = "";
      let k = i + 1;
      for (;;) {
        if (k >= src.length) throw new SieveError("unterminated string", at);
        const d = src[k]!;
        if (d === '"') break;
        if (d === "\\" && k + 1 < src.length) {
          // RFC 5228 §2.4.2: \\ and \" stand for themselves; any other \x is x.
          out += src[k + 1]!;
          if (src[k + 1] === "\n") newline(k + 1);
          k += 2;
          continue;
        }
        if (d === "\n") newline(k);
        out += d;
        k++;
      }
      tokens.push({ type: "string", value: out.replace(/\r?\n/g, "\r\n"), pos: at, multiline: false });
      i = k + 1;
      continue;
    }
    if (/[0-9]/.test(c)) {
      const m = /^[0-9]+/.exec(src.slice(i, i + 32))![0];
      let value = Number(m);
      let k = i + m.length;
      const q = src[k]?.toUpperCase();
      if (q === "K" || q === "M" || q === "G") {
        value *= q === "K" ? 1024 : q === "M" ? 1024 ** 2 : 1024 ** 3;
        k++;
      }
      if (value > MAX_NUMBER) throw new SieveError("number too large", at);
      if (/[A-Za-z_]/.test(src[k] ?? "")) throw new SieveError("bad number", at);
      tokens.push({ type: "number", value, pos: at });
      i = k;
      continue;
    }
    if (c === ":" || /[A-Za-z_]/.test(c)) {
      const m = /^:?[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i, i + 256));
      if (!m) throw new SieveError("bad tag", at);
      const word = m[0];
      if (word.length >= 256) throw new SieveError("identifier too long", at);
      if (word.toLowerCase() === "text" && src[i + 4] === ":") {
        i = readText(i + 5, at);
        continue;
      }
      tokens.push(
        word.startsWith(":")
          ? { type: "tag", value: word.slice(1).toLowerCase(), pos: at }
          : { type: "identifier", value: word.toLowerCase(), pos: at },
      );
      i += word.length;
      continue;
    }
    throw new SieveError(`unexpected character '${c}'`, at);
  }
  tokens.push({ type: "eof", pos: pos(i) });
  return tokens;

  function readText(from: number, at: Position): number {
    // text: [spaces] (CRLF | # comment CRLF) lines… "." CRLF
    let k = from;
    while (src[k] === " " || src[k] === "\t") k++;
    if (src[k] === "#") while (k < src.length && src[k] !== "\n") k++;
    if (src[k] === "\r") k++;
    if (src[k] !== "\n") throw new SieveError("text: must be followed by a line end", pos(k));
    newline(k);
    k++;
    const lines: string[] = [];
    for (;;) {
      if (k >= src.length)
        throw new SieveError("unterminated text: string (a line with a single '.' ends it)", at);
      let end = src.indexOf("\n", k);
      if (end < 0) end = src.length;
      let l = src.slice(k, end);
      if (l.endsWith("\r")) l = l.slice(0, -1);
      if (end < src.length) newline(end);
      k = end + 1;
      if (l === ".") break;
      lines.push(l.startsWith("..") ? l.slice(1) : l);
    }
    tokens.push({ type: "string", value: lines.map((l) => l + "\r\n").join(""), pos: at, multiline: true });
    return k;
  }
}

// The MTA side of the Sendmail milter protocol, version 6 (libmilter's mfdef.h; Postfix's
// milter8.c speaks the same), as bytes in and values out. No I/O. Every frame on the wire is
//
//   uint32 length (big-endian, counts the command byte and the data) | command byte | data
//
//   MTA → milter: O optneg (version, actions, protocol), D macros, C connect, H helo, M mail,
//                 R rcpt, T data, L header, N end of headers, B body chunk, E end of body,
//                 A abort, Q quit
//   milter → MTA: O optneg reply, then per command a, c, r, t, d, y (reply code), p (progress),
//                 s (skip) and, at end of body, the edits h, m, i, e, +, 2, -, b, q
//
// What the milter sends is untrusted: the frame decoder bounds the length (a larger frame is an
// error, never an allocation), and replyOf() checks every field's shape before a value leaves.
// Strings are NUL-terminated; header and address text is read as latin1 bytes turned into a
// string one-to-one, so nothing is lost or invented between the milter and the message.

/** libmilter's SMFI_VERSION for the protocol with SMFIC_DATA and the NR_* flags. */
export const MILTER_VERSION = 6;
/** libmilter's MILTER_CHUNK_SIZE: the most data in one SMFIC_BODY. */
export const BODY_CHUNK = 65535;
/** Largest reply frame accepted (a replaced body arrives in chunks of at most this). */
export const MAX_FRAME = 1024 * 1024;

/** Commands (SMFIC_*). */
export const CMD = {
  optneg: "O",
  macro: "D",
  connect: "C",
  helo: "H",
  mail: "M",
  rcpt: "R",
  data: "T",
  header: "L",
  eoh: "N",
  body: "B",
  eob: "E",
  abort: "A",
  quit: "Q",
} as const;

/** Protocol flags (SMFIP_*): steps the milter does not want, and steps it will not answer. */
export const SMFIP = {
  NOCONNECT: 0x1,
  NOHELO: 0x2,
  NOMAIL: 0x4,
  NORCPT: 0x8,
  NOBODY: 0x10,
  NOHDRS: 0x20,
  NOEOH: 0x40,
  NR_HDR: 0x80,
  NOUNKNOWN: 0x100,
  NODATA: 0x200,
  SKIP: 0x400,
  RCPT_REJ: 0x800,
  NR_CONN: 0x1000,
  NR_HELO: 0x2000,
  NR_MAIL: 0x4000,
  NR_RCPT: 0x8000,
  NR_DATA: 0x10000,
  NR_UNKN: 0x20000,
  NR_EOH: 0x40000,
  NR_BODY: 0x80000,
  HDR_LEADSPC: 0x100000,
} as const;

/**
 * What Mailyard offers: every step may be skipped and every non-final step may go unanswered;
 * SKIP is honoured. Not offered: RCPT_REJ (rejected recipients are never shown), HDR_LEADSPC
 * (values are sent without the space after the colon, as Postfix does by default).
 */
export const OFFERED_PROTOCOL =
  SMFIP.NOCONNECT |
  SMFIP.NOHELO |
  SMFIP.NOMAIL |
  SMFIP.NORCPT |
  SMFIP.NOBODY |
  SMFIP.NOHDRS |
  SMFIP.NOEOH |
  SMFIP.NR_HDR |
  SMFIP.NOUNKNOWN |
  SMFIP.NODATA |
  SMFIP.SKIP |
  SMFIP.NR_CONN |
  SMFIP.NR_HELO |
  SMFIP.NR_MAIL |
  SMFIP.NR_RCPT |
  SMFIP.NR_DATA |
  SMFIP.NR_UNKN |
  SMFIP.NR_EOH |
  SMFIP.NR_BODY;

/** Action flags (SMFIF_*): the edits a milter may make at end of message. */
export const SMFIF = {
  ADDHDRS: 0x1,
  CHGBODY: 0x2,
  ADDRCPT: 0x4,
  DELRCPT: 0x8,
  CHGHDRS: 0x10,
  QUARANTINE: 0x20,
  CHGFROM: 0x40,
  ADDRCPT_PAR: 0x80,
  SETSYMLIST: 0x100,
} as const;

/** Every edit Mailyard applies (SETSYMLIST is not: the macros sent are fixed). */
export const OFFERED_ACTIONS =
  SMFIF.ADDHDRS |
  SMFIF.CHGBODY |
  SMFIF.ADDRCPT |
  SMFIF.DELRCPT |
  SMFIF.CHGHDRS |
  SMFIF.QUARANTINE |
  SMFIF.CHGFROM |
  SMFIF.ADDRCPT_PAR;

export type MilterReply =
  | { readonly kind: "optneg"; readonly version: number; readonly actions: number; readonly protocol: number }
  | { readonly kind: "accept" }
  | { readonly kind: "continue" }
  | { readonly kind: "reject" }
  | { readonly kind: "tempfail" }
  | { readonly kind: "discard" }
  | { readonly kind: "progress" }
  | { readonly kind: "skip" }
  /** SMFIR_REPLYCODE: the reply the client gets; a 4xx is a tempfail, a 5xx a reject. */
  | { readonly kind: "replycode"; readonly code: number; readonly text: string }
  | { readonly kind: "quarantine"; readonly reason: string }
  | { readonly kind: "addheader"; readonly name: string; readonly value: string }
  /** index: the index-th (from 1) header of this name; an empty value removes it. */
  | { readonly kind: "chgheader"; readonly index: number; readonly name: string; readonly value: string }
  /** index: position among all headers, 0 = first. */
  | { readonly kind: "insheader"; readonly index: number; readonly name: string; readonly value: string }
  | { readonly kind: "chgfrom"; readonly from: string; readonly args: string }
  | { readonly kind: "addrcpt"; readonly rcpt: string; readonly args: string }
  | { readonly kind: "delrcpt"; readonly rcpt: string }
  | { readonly kind: "replbody"; readonly chunk: Buffer };

const u32 = (n: number): Buffer => {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
};

/** One frame: the command byte and its data, with the length in front. */
export function frame(cmd: string, ...data: Buffer[]): Buffer {
  let len = 1;
  for (const d of data) len += d.length;
  return Buffer.concat([u32(len), Buffer.from(cmd, "latin1"), ...data], 4 + len);
}

/** NUL-terminated strings, one after another. */
const cstrings = (...parts: readonly string[]): Buffer =>
  Buffer.concat(parts.map((p) => Buffer.from(`${p.replace(/\0/g, "")}\0`, "latin1")));

export const encodeOptneg = (actions: number, protocol: number): Buffer =>
  frame(CMD.optneg, u32(MILTER_VERSION), u32(actions), u32(protocol));

/** SMFIC_MACRO: the macros that apply to the command `forCmd`, sent just before it. */
export const encodeMacros = (forCmd: string, macros: Readonly<Record<string, string>>): Buffer =>
  frame(CMD.macro, Buffer.from(forCmd, "latin1"), cstrings(...Object.entries(macros).flat()));

/** SMFIC_CONNECT: hostname, family ('4', '6', or 'U' unknown), port, address. */
export function encodeConnect(hostname: string, address: string, port: number): Buffer {
  const family = address.includes(":") ? "6" : /^\d+\.\d+\.\d+\.\d+$/.test(address) ? "4" : "U";
  if (family === "U") return frame(CMD.connect, cstrings(hostname), Buffer.from("U", "latin1"));
  const p = Buffer.allocUnsafe(2);
  p.writeUInt16BE(port & 0xffff, 0);
  return frame(CMD.connect, cstrings(hostname), Buffer.from(family, "latin1"), p, cstrings(address));
}

export const encodeHelo = (helo: string): Buffer => frame(CMD.helo, cstrings(helo));

/** SMFIC_MAIL / SMFIC_RCPT: the address in angle brackets, then each ESMTP parameter. */
export const encodeMail = (from: string, args: readonly string[] = []): Buffer =>
  frame(CMD.mail, cstrings(`<${from}>`, ...args));
export const encodeRcpt = (to: string, args: readonly string[] = []): Buffer =>
  frame(CMD.rcpt, cstrings(`<${to}>`, ...args));

export const encodeData = (): Buffer => frame(CMD.data);
export const encodeHeader = (name: string, value: string): Buffer => frame(CMD.header, cstrings(name, value));
export const encodeEoh = (): Buffer => frame(CMD.eoh);

/** SMFIC_BODY frames for one piece of body, each at most BODY_CHUNK bytes of data. */
export function encodeBody(piece: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < piece.length; at += BODY_CHUNK) {
    out.push(frame(CMD.body, piece.subarray(at, Math.min(piece.length, at + BODY_CHUNK))));
  }
  return out;
}

export const encodeEob = (): Buffer => frame(CMD.eob);
export const encodeAbort = (): Buffer => frame(CMD.abort);
export const encodeQuit = (): Buffer => frame(CMD.quit);

export interface RawFrame {
  readonly cmd: string;
  readonly data: Buffer;
}

/**
 * Splits the milter's byte stream into frames, whatever the read boundaries. A length of 0 or
 * above MAX_FRAME is a protocol error: the decoder stops and says so.
 */
export class FrameDecoder {
  private parts: Buffer[] = [];
  private have = 0;
  private failed: string | null = null;

  /** Frames completed by this chunk, or an error text (then nothing more is decoded). */
  push(chunk: Buffer): RawFrame[] | string {
    if (this.failed !== null) return this.failed;
    this.parts.push(chunk);
    this.have += chunk.length;
    const out: RawFrame[] = [];
    for (;;) {
      if (this.have < 4) return out;
      const head = this.peek(4);
      const len = head.readUInt32BE(0);
      if (len === 0 || len > MAX_FRAME) {
        this.failed = `bad milter frame length ${len}`;
        return this.failed;
      }
      if (this.have < 4 + len) return out;
      const whole = this.take(4 + len);
      out.push({ cmd: String.fromCharCode(whole[4]!), data: whole.subarray(5) });
    }
  }

  private peek(n: number): Buffer {
    if (this.parts[0]!.length >= n) return this.parts[0]!.subarray(0, n);
    const joined = Buffer.concat(this.parts);
    this.parts = [joined];
    return joined.subarray(0, n);
  }

  private take(n: number): Buffer {
    const joined = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
    const out = joined.subarray(0, n);
    const rest = joined.subarray(n);
    this.parts = rest.length > 0 ? [rest] : [];
    this.have -= n;
    return out;
  }
}

/** The NUL-terminated strings of a frame's data; null when the last is not terminated. */
function splitStrings(data: Buffer, from = 0): string[] | null {
  const out: string[] = [];
  let at = from;
  while (at < data.length) {
    const nul = data.indexOf(0, at);
    if (nul < 0) return null;
    out.push(data.toString("latin1", at, nul));
    at = nul + 1;
  }
  return out;
}

/** The replies that are their command byte alone (their data, if any, is ignored). */
const BARE_REPLIES: Readonly<Record<string, MilterReply>> = {
  a: { kind: "accept" },
  c: { kind: "continue" },
  r: { kind: "reject" },
  t: { kind: "tempfail" },
  d: { kind: "discard" },
  p: { kind: "progress" },
  s: { kind: "skip" },
};

/** A decoded milter reply, or an error text for a frame that is not one. */
export function replyOf(f: RawFrame): MilterReply | string {
  const bare = Object.hasOwn(BARE_REPLIES, f.cmd) ? BARE_REPLIES[f.cmd] : undefined;
  if (bare !== undefined) return bare;
  const strs = (min: number, from = 0): string[] | null => {
    const s = splitStrings(f.data, from);
    return s !== null && s.length >= min ? s : null;
  };
  switch (f.cmd) {
    case "O": {
      // Version, actions, protocol; a v6 milter may append the macros it wants (ignored).
      if (f.data.length < 12) return "short optneg reply";
      return {
        kind: "optneg",
        version: f.data.readUInt32BE(0),
        actions: f.data.readUInt32BE(4),
        protocol: f.data.readUInt32BE(8),
      };
    }
    case "y": {
      const s = strs(1);
      const m = s === null ? null : /^([45])(\d\d)(?:[ -](.*))?$/s.exec(s[0]!);
      if (m === null) return "bad reply code";
      return { kind: "replycode", code: Number(m[1]! + m[2]!), text: (m[3] ?? "").trim() };
    }
    case "q": {
      const s = strs(0);
      return s === null ? "bad quarantine" : { kind: "quarantine", reason: s[0] ?? "" };
    }
    case "h": {
      const s = strs(2);
      return s === null || !validName(s[0]!)
        ? "bad add header"
        : { kind: "addheader", name: s[0]!, value: s[1]! };
    }
    case "m":
    case "i": {
      if (f.data.length < 4) return "bad header edit";
      const index = f.data.readUInt32BE(0);
      const s = strs(2, 4);
      if (s === null || !validName(s[0]!)) return "bad header edit";
      return f.cmd === "m"
        ? { kind: "chgheader", index, name: s[0]!, value: s[1]! }
        : { kind: "insheader", index, name: s[0]!, value: s[1]! };
    }
    case "e": {
      const s = strs(1);
      return s === null ? "bad change sender" : { kind: "chgfrom", from: unbracket(s[0]!), args: s[1] ?? "" };
    }
    case "+":
    case "2": {
      const s = strs(1);
      return s === null || s[0] === ""
        ? "bad add recipient"
        : { kind: "addrcpt", rcpt: unbracket(s[0]!), args: s[1] ?? "" };
    }
    case "-": {
      const s = strs(1);
      return s === null ? "bad delete recipient" : { kind: "delrcpt", rcpt: unbracket(s[0]!) };
    }
    case "b":
      return { kind: "replbody", chunk: f.data };
    default:
      return `unknown milter reply ${JSON.stringify(f.cmd)}`;
  }
}

/** RFC 5322 §2.2: a field name is printable ASCII except the colon. */
const validName = (name: string): boolean => /^[\x21-\x39\x3b-\x7e]{1,200}$/.test(name);

/** Milters give addresses with or without the angle brackets. */
const unbracket = (a: string): string => {
  const t = a.trim();
  return t.startsWith("<") && t.endsWith(">") ? t.slice(1, -1) : t;
};

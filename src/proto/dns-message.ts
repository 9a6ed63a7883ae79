// The few DNS messages DANE needs (RFC 1035 §4, RFC 6891 EDNS0, RFC 4035 §3.2 DO/AD): a query
// with RD, AD and the DO bit, and its answer read back with the AD bit, the RCODE and the MX or
// TLSA records (RFC 6698 §2.1) of the answer section. Node's dns module hides the AD bit, so
// Mailyard asks a configured validating resolver itself (delivery/relay/dane-lookup.ts); this
// file only encodes and decodes. The answer is untrusted: every read is bounds-checked, name
// compression pointers must point backwards (so a name is read in at most 255 bytes and cannot
// loop), and record counts are capped. No I/O.

export const TYPE_MX = 15;
export const TYPE_TLSA = 52;
const TYPE_OPT = 41;
const CLASS_IN = 1;

/** Most records read from one section; a TLSA or MX RRset is a handful. */
const MAX_RECORDS = 64;
/** A DNS name is at most 255 octets on the wire (RFC 1035 §2.3.4). */
const MAX_NAME = 255;
/** The EDNS0 UDP payload size we announce (the DNS flag day 2020 value). */
export const UDP_PAYLOAD = 1232;

export interface DnsQuery {
  readonly id: number;
  readonly name: string;
  readonly type: number;
}

export interface TlsaRecord {
  /** 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE (RFC 7218). */
  readonly usage: number;
  /** 0 the whole certificate, 1 its SubjectPublicKeyInfo. */
  readonly selector: number;
  /** 0 the data itself, 1 SHA-256, 2 SHA-512. */
  readonly matching: number;
  readonly data: Uint8Array;
}

export interface MxData {
  readonly priority: number;
  readonly exchange: string;
}

export interface DnsResponse {
  readonly id: number;
  /** RFC 1035 §4.1.1 RCODE: 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, ... */
  readonly rcode: number;
  /** The resolver validated the answer with DNSSEC (RFC 4035 §3.2.3). */
  readonly authenticated: boolean;
  /** Truncated: ask again over TCP (RFC 7766). */
  readonly truncated: boolean;
  /** Records of the queried type owned by the queried name (CNAMEs are not followed). */
  readonly tlsa: readonly TlsaRecord[];
  readonly mx: readonly MxData[];
}

export class DnsFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DnsFormatError";
  }
}

/** A query as it goes over UDP (over TCP it is prefixed with its length, RFC 1035 §4.2.2). */
export function encodeQuery(q: DnsQuery): Uint8Array {
  const name = encodeName(q.name);
  const out = new Uint8Array(12 + name.length + 4 + 11);
  const v = new DataView(out.buffer);
  v.setUint16(0, q.id & 0xffff);
  // RD (recursion desired) and AD: "tell me whether you validated it" (RFC 6840 §5.7).
  v.setUint16(2, 0x0100 | 0x0020);
  v.setUint16(4, 1); // QDCOUNT
  v.setUint16(10, 1); // ARCOUNT: the OPT record
  out.set(name, 12);
  let o = 12 + name.length;
  v.setUint16(o, q.type);
  v.setUint16(o + 2, CLASS_IN);
  o += 4;
  // OPT RR (RFC 6891 §6.1.2): root name, type 41, class = UDP payload size, TTL with DO set.
  out[o] = 0;
  v.setUint16(o + 1, TYPE_OPT);
  v.setUint16(o + 3, UDP_PAYLOAD);
  v.setUint32(o + 5, 0x00008000);
  v.setUint16(o + 9, 0);
  return out;
}

/** The wire form of a name (lower-cased, no compression); throws DnsFormatError on a bad one. */
export function encodeName(name: string): Uint8Array {
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  const labels = trimmed === "" ? [] : trimmed.split(".");
  const bytes: number[] = [];
  for (const label of labels) {
    if (label.length === 0 || label.length > 63 || !/^[\x21-\x7e]+$/.test(label))
      throw new DnsFormatError(`bad DNS label in ${name}`);
    bytes.push(label.length);
    for (let i = 0; i < label.length; i++) bytes.push(label.toLowerCase().charCodeAt(i));
  }
  bytes.push(0);
  if (bytes.length > MAX_NAME) throw new DnsFormatError(`DNS name too long: ${name}`);
  return Uint8Array.from(bytes);
}

/** Decode the answer to `q`; throws DnsFormatError when it is malformed or answers another question. */
export function decodeResponse(msg: Uint8Array, q: DnsQuery): DnsResponse {
  const r = new Reader(msg);
  const id = r.u16();
  const flags = r.u16();
  const qd = r.u16();
  const an = r.u16();
  r.u16(); // NSCOUNT
  r.u16(); // ARCOUNT
  if (id !== (q.id & 0xffff)) throw new DnsFormatError("answer for another query id");
  if ((flags & 0x8000) === 0) throw new DnsFormatError("not a response");
  const truncated = (flags & 0x0200) !== 0;
  const rcode = flags & 0x000f;
  if (qd !== 1) throw new DnsFormatError(`expected one question, got ${qd}`);
  const qname = r.name();
  const qtype = r.u16();
  const qclass = r.u16();
  if (!sameName(qname, q.name) || qtype !== q.type || qclass !== CLASS_IN)
    throw new DnsFormatError("answer to another question");
  const base = { id, rcode, authenticated: (flags & 0x0020) !== 0, truncated };
  if (truncated) return { ...base, tlsa: [], mx: [] };
  if (an > MAX_RECORDS) throw new DnsFormatError(`too many answer records (${an})`);
  const tlsa: TlsaRecord[] = [];
  const mx: MxData[] = [];
  for (let i = 0; i < an; i++) {
    const owner = r.name();
    const type = r.u16();
    const cls = r.u16();
    r.u32(); // TTL
    const len = r.u16();
    const end = r.offset + len;
    if (end > msg.length) throw new DnsFormatError("record runs past the message");
    if (cls === CLASS_IN && type === q.type && sameName(owner, q.name)) {
      if (type === TYPE_TLSA) {
        if (len < 3) throw new DnsFormatError("TLSA record too short");
        tlsa.push({
          usage: msg[r.offset]!,
          selector: msg[r.offset + 1]!,
          matching: msg[r.offset + 2]!,
          data: msg.slice(r.offset + 3, end),
        });
      } else if (type === TYPE_MX) {
        if (len < 3) throw new DnsFormatError("MX record too short");
        const priority = r.u16();
        const exchange = r.name();
        if (r.offset !== end) throw new DnsFormatError("MX record length does not match its data");
        mx.push({ priority, exchange });
      }
    }
    r.offset = end;
  }
  return { ...base, tlsa, mx };
}

const sameName = (a: string, b: string): boolean =>
  a.replace(/\.$/, "").toLowerCase() === b.replace(/\.$/, "").toLowerCase();

class Reader {
  offset = 0;
  constructor(private readonly m: Uint8Array) {}

  private need(n: number, at = this.offset): void {
    if (at + n > this.m.length) throw new DnsFormatError("message truncated");
  }

  u16(): number {
    this.need(2);
    const v = (this.m[this.offset]! << 8) | this.m[this.offset + 1]!;
    this.offset += 2;
    return v;
  }

  u32(): number {
    const hi = this.u16();
    return hi * 65536 + this.u16();
  }

  /**
   * A possibly compressed name at the offset (RFC 1035 §4.1.4). Each pointer must go strictly
   * back, so the walk ends; the name's own length is capped at 255 octets.
   */
  name(): string {
    const labels: string[] = [];
    let at = this.offset;
    let after: number | null = null;
    let length = 1;
    for (;;) {
      this.need(1, at);
      const len = this.m[at]!;
      if ((len & 0xc0) === 0xc0) {
        this.need(2, at);
        const target = ((len & 0x3f) << 8) | this.m[at + 1]!;
        if (target >= at) throw new DnsFormatError("compression pointer does not point back");
        after ??= at + 2;
        at = target;
        continue;
      }
      if ((len & 0xc0) !== 0) throw new DnsFormatError("unknown label type");
      if (len === 0) {
        this.offset = after ?? at + 1;
        return labels.join(".");
      }
      length += len + 1;
      if (length > MAX_NAME) throw new DnsFormatError("name too long");
      this.need(1 + len, at);
      let label = "";
      for (let i = 1; i <= len; i++) label += String.fromCharCode(this.m[at + i]!);
      labels.push(label);
      at += 1 + len;
    }
  }
}

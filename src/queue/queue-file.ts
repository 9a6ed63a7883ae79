// The on-disk layout of one queue file: message bytes, then the envelope as JSON, then a
// fixed-size trailer saying where the envelope is. The body is streamed to disk while it is
// received; the envelope is appended at commit, so nothing is ever rewritten in place.
//
//   [0, offset)                 message bytes, exactly as they will be delivered
//   [offset, offset + length)   envelope JSON (UTF-8)
//   last 32 bytes               "MAILYQ1\n" | offset u64 BE | length u32 BE | crc32 u32 BE |
//                               body crc32 u32 BE | flags u8 (1: body crc32 present) | 3 zero bytes
//
// Files are read back only by this process, but a crash, a full disk, a failing disk or an
// operator's editor can leave any bytes: everything read is validated and a bad file is reported,
// never trusted. The body's CRC-32 (written since it was added; older files have zero flags and
// are not checked) is verified before the bytes are delivered (spool.ts): a flipped byte is
// caught, not passed on. CRC-32 against accidents, not attackers: whoever can write the file can
// rewrite its checksum; it costs about a third less than SHA-256 here and catches every burst
// error up to 32 bits.
import { crc32 } from "node:zlib";
import { MESSAGE_SOURCES, type Envelope } from "./envelope.js";
import { isObj, jsonObject } from "./file-json.js";
import type { EnvelopeDraft } from "./types.js";

export const TRAILER_SIZE = 32;
const MAGIC = Buffer.from("MAILYQ1\n", "latin1");
/** An envelope larger than this is not ours (recipient lists are bounded well below it). */
const MAX_ENVELOPE = 64 * 1024 * 1024;

/** The bytes appended at commit: envelope JSON and the trailer. */
export function encodeTail(envelope: Envelope, bodyLength: number, bodyCrc: number | null = null): Buffer {
  const json = Buffer.from(JSON.stringify(envelope), "utf8");
  const out = Buffer.alloc(json.length + TRAILER_SIZE);
  json.copy(out, 0);
  const t = json.length;
  MAGIC.copy(out, t);
  out.writeBigUInt64BE(BigInt(bodyLength), t + 8);
  out.writeUInt32BE(json.length, t + 16);
  out.writeUInt32BE(crc32(json), t + 20);
  if (bodyCrc !== null) {
    out.writeUInt32BE(bodyCrc >>> 0, t + 24);
    out.writeUInt8(BODY_CRC, t + 28);
  }
  return out;
}

/** Trailer flag: the body's CRC-32 is stored. */
const BODY_CRC = 1;

export interface Trailer {
  readonly offset: number;
  readonly length: number;
  readonly crc: number;
  /** CRC-32 of the body; null for files written before it was stored. */
  readonly bodyCrc: number | null;
}

export function decodeTrailer(trailer: Buffer, fileSize: number): Trailer | string {
  if (trailer.length !== TRAILER_SIZE) return "file shorter than the trailer";
  if (!trailer.subarray(0, 8).equals(MAGIC)) return "bad trailer magic";
  const offset = Number(trailer.readBigUInt64BE(8));
  const length = trailer.readUInt32BE(16);
  const crc = trailer.readUInt32BE(20);
  if (length > MAX_ENVELOPE) return "envelope too large";
  if (offset + length + TRAILER_SIZE !== fileSize) return "trailer does not match file size";
  const bodyCrc = (trailer.readUInt8(28) & BODY_CRC) !== 0 ? trailer.readUInt32BE(24) : null;
  return { offset, length, crc, bodyCrc };
}

type Check = (v: unknown) => boolean;
const str: Check = (v) => typeof v === "string";
const strOrNull: Check = (v) => v === null || typeof v === "string";
const num: Check = (v) => typeof v === "number" && Number.isFinite(v);
const oneOf =
  (...xs: unknown[]): Check =>
  (v) =>
    xs.includes(v);

const notifyOk: Check = (v) =>
  v === null ||
  v === "NEVER" ||
  (Array.isArray(v) && v.length > 0 && v.every((x) => x === "SUCCESS" || x === "FAILURE" || x === "DELAY"));

const recipientOk: Check = (v) =>
  isObj(v) && str(v.address) && strOrNull(v.original) && notifyOk(v.notify) && strOrNull(v.orcpt);

const clientOk: Check = (v) =>
  v === null ||
  (isObj(v) && str(v.address) && num(v.port) && strOrNull(v.helo) && typeof v.tls === "boolean");

const ENVELOPE_FIELDS: Record<keyof Envelope, Check> = {
  id: str,
  returnPath: str,
  recipients: (v) => Array.isArray(v) && v.length > 0 && v.every(recipientOk),
  ret: oneOf("FULL", "HDRS", null),
  envid: strOrNull,
  body: oneOf("7BIT", "8BITMIME", "BINARYMIME"),
  smtputf8: (v) => typeof v === "boolean",
  requireTls: (v) => v === undefined || typeof v === "boolean",
  source: oneOf(...MESSAGE_SOURCES),
  authUser: strOrNull,
  client: clientOk,
  arrival: num,
  size: num,
};

/**
 * Check an envelope draft that came from elsewhere (a remote submit): every field an Envelope
 * has except id and size, which the receiving queue assigns.
 */
export function checkDraft(v: unknown): EnvelopeDraft | string {
  if (!isObj(v)) return "envelope is not an object";
  for (const [k, check] of Object.entries(ENVELOPE_FIELDS)) {
    if (k === "id" || k === "size") continue;
    if (!check(v[k])) return `envelope field ${k} is invalid`;
  }
  const { id: _id, size: _size, ...draft } = v;
  return draft as unknown as EnvelopeDraft;
}

/** Parse and check the envelope bytes of the file named `id` whose body is `bodyLength` bytes. */
export function parseEnvelope(json: Buffer, t: Trailer, id: string): Envelope | string {
  if (crc32(json) !== t.crc) return "envelope checksum mismatch";
  const v = jsonObject(json, "envelope");
  if (typeof v === "string") return v;
  for (const [k, check] of Object.entries(ENVELOPE_FIELDS)) {
    if (!check(v[k])) return `envelope field ${k} is invalid`;
  }
  if (v.id !== id) return "envelope id does not match file name";
  if (v.size !== t.offset) return "envelope size does not match body length";
  return v as unknown as Envelope;
}

// The shadow records: what a primary tells the peer holding its shadow copies, and what that
// peer keeps on disk. One batch on the wire (XSHADOW) is a run of records, and the peer appends
// the very bytes it received to its segment file for that primary (store.ts), so a batch is
// encoded once and never re-encoded. No I/O.
//
//   record = kind u8 | id length u8 | data length u32 BE | id (ASCII) | data
//   kind 1 add:   data = the whole queue file (message bytes, envelope, trailer: queue-file.ts)
//   kind 2 state: data = the recipient state as the spool stores it (state-file.ts)
//   kind 3 drop:  no data: the message is finished (delivered, bounced or handed on)
//   kind 4 reset: no id, no data: forget every shadow of this primary (it restarted and sends
//                 again what it still holds)
//
// Everything decoded here came from another process or from a disk: it is checked, and a batch
// or a segment with a bad record is refused (a torn segment tail is where a write stopped).
import { QUEUE_ID } from "../../queue/ids.js";

export type ShadowRecord =
  | { readonly kind: "add"; readonly id: string; readonly data: readonly Buffer[] }
  | { readonly kind: "state"; readonly id: string; readonly data: readonly Buffer[] }
  | { readonly kind: "drop"; readonly id: string }
  | { readonly kind: "reset" };

/** A record as decoded: its bytes are a view of the batch or segment it came in. */
export type DecodedRecord =
  | { readonly kind: "add" | "state"; readonly id: string; readonly data: Buffer; readonly at: number }
  | { readonly kind: "drop"; readonly id: string; readonly at: number }
  | { readonly kind: "reset"; readonly at: number };

const KIND = { add: 1, state: 2, drop: 3, reset: 4 } as const;
const KIND_NAME = ["", "add", "state", "drop", "reset"] as const;
export const HEADER_SIZE = 6;

/** The record as buffers to write in order (data chunks are not copied). */
export function encodeRecord(r: ShadowRecord): Buffer[] {
  const id = r.kind === "reset" ? "" : r.id;
  if (r.kind !== "reset" && !QUEUE_ID.test(id)) throw new Error(`invalid queue id ${JSON.stringify(id)}`);
  const data = r.kind === "add" || r.kind === "state" ? r.data : [];
  let length = 0;
  for (const d of data) length += d.length;
  const head = Buffer.alloc(HEADER_SIZE + id.length);
  head.writeUInt8(KIND[r.kind], 0);
  head.writeUInt8(id.length, 1);
  head.writeUInt32BE(length, 2);
  head.write(id, HEADER_SIZE, "latin1");
  return [head, ...data];
}

export const byteLength = (bufs: readonly Buffer[]): number => bufs.reduce((n, b) => n + b.length, 0);

/**
 * The records of `buf`, in order. `torn`: the bytes after the last whole record (a segment cut
 * short by a crash has some; a batch must have none), or a string saying what is wrong.
 */
export function decodeRecords(buf: Buffer): { records: DecodedRecord[]; torn: number } | string {
  const records: DecodedRecord[] = [];
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < HEADER_SIZE) break;
    const kind = KIND_NAME[buf.readUInt8(at)];
    const idLength = buf.readUInt8(at + 1);
    const length = buf.readUInt32BE(at + 2);
    if (kind === undefined || kind === "") return `unknown record kind at byte ${at}`;
    const end = at + HEADER_SIZE + idLength + length;
    if (end > buf.length) break;
    const id = buf.toString("latin1", at + HEADER_SIZE, at + HEADER_SIZE + idLength);
    if (kind === "reset") {
      if (idLength !== 0 || length !== 0) return "reset record with an id or data";
      records.push({ kind, at });
    } else {
      if (!QUEUE_ID.test(id)) return `invalid queue id at byte ${at}`;
      if (kind === "drop") {
        if (length !== 0) return "drop record with data";
        records.push({ kind, id, at });
      } else {
        records.push({ kind, id, at, data: buf.subarray(end - length, end) });
      }
    }
    at = end;
  }
  return { records, torn: buf.length - at };
}

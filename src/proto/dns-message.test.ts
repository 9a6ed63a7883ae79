import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DnsFormatError,
  TYPE_MX,
  TYPE_TLSA,
  decodeResponse,
  encodeName,
  encodeQuery,
  type DnsQuery,
} from "./dns-message.js";

const q: DnsQuery = { id: 0x1234, name: "_25._tcp.mx.dane.test", type: TYPE_TLSA };

/** A response to `query`: header flags, then answer records given as [ownerBytes, type, rdata]. */
function response(
  query: DnsQuery,
  flags: number,
  answers: readonly [Uint8Array, number, Uint8Array][],
): Uint8Array {
  const parts: number[] = [];
  const u16 = (n: number): void => void parts.push((n >> 8) & 0xff, n & 0xff);
  u16(query.id);
  u16(flags);
  u16(1);
  u16(answers.length);
  u16(0);
  u16(0);
  parts.push(...encodeName(query.name));
  u16(query.type);
  u16(1);
  for (const [owner, type, rdata] of answers) {
    parts.push(...owner);
    u16(type);
    u16(1);
    u16(0);
    u16(300);
    u16(rdata.length);
    parts.push(...rdata);
  }
  return Uint8Array.from(parts);
}

/** A pointer to the question's name (offset 12). */
const toQuestion = Uint8Array.from([0xc0, 12]);
const tlsa = Uint8Array.from([3, 1, 1, ...new Array<number>(32).fill(0xab)]);

void test("a query asks with RD and AD, and an OPT record with DO (RFC 6891, RFC 6840 §5.7)", () => {
  const m = encodeQuery(q);
  assert.equal((m[0]! << 8) | m[1]!, 0x1234);
  assert.equal((m[2]! << 8) | m[3]!, 0x0120);
  assert.equal((m[10]! << 8) | m[11]!, 1, "ARCOUNT");
  const opt = m.slice(m.length - 11);
  assert.deepEqual([...opt.slice(0, 3)], [0, 0, 41]);
  assert.equal((opt[5]! << 24) | (opt[6]! << 16) | (opt[7]! << 8) | opt[8]!, 0x8000, "DO bit");
  assert.throws(() => encodeName("a..b"), DnsFormatError);
  assert.throws(() => encodeName(`${"a".repeat(64)}.test`), DnsFormatError);
});

void test("an answer: the AD bit, the RCODE and the TLSA records owned by the name asked", () => {
  const r = decodeResponse(
    response(q, 0x81a0, [
      [toQuestion, TYPE_TLSA, tlsa],
      [encodeName("other.test"), TYPE_TLSA, tlsa],
    ]),
    q,
  );
  assert.equal(r.authenticated, true);
  assert.equal(r.rcode, 0);
  assert.equal(r.tlsa.length, 1, "the record of another owner is not taken");
  assert.deepEqual([r.tlsa[0]!.usage, r.tlsa[0]!.selector, r.tlsa[0]!.matching], [3, 1, 1]);
  assert.equal(r.tlsa[0]!.data.length, 32);
  const insecure = decodeResponse(response(q, 0x8180, [[toQuestion, TYPE_TLSA, tlsa]]), q);
  assert.equal(insecure.authenticated, false);
  assert.equal(decodeResponse(response(q, 0x8183, []), q).rcode, 3);
  assert.equal(decodeResponse(response(q, 0x8380, []), q).truncated, true);
});

void test("MX answers with compressed exchange names", () => {
  const mq: DnsQuery = { id: 7, name: "dane.test", type: TYPE_MX };
  // "mx" + pointer to the question name: mx.dane.test.
  const rdata = Uint8Array.from([0, 10, 2, 0x6d, 0x78, 0xc0, 12]);
  const r = decodeResponse(response(mq, 0x81a0, [[toQuestion, TYPE_MX, rdata]]), mq);
  assert.deepEqual(r.mx, [{ priority: 10, exchange: "mx.dane.test" }]);
});

void test("answers to another id or question, and non-responses, are refused", () => {
  const good = response(q, 0x81a0, [[toQuestion, TYPE_TLSA, tlsa]]);
  assert.throws(() => decodeResponse(good, { ...q, id: 1 }), /another query id/);
  assert.throws(() => decodeResponse(good, { ...q, name: "_25._tcp.other.test" }), /another question/);
  assert.throws(() => decodeResponse(good, { ...q, type: TYPE_MX }), /another question/);
  assert.throws(() => decodeResponse(response(q, 0x01a0, []), q), /not a response/);
});

void test("hostile answers: every truncation, forward and looping pointers, huge counts", () => {
  const good = response(q, 0x81a0, [[toQuestion, TYPE_TLSA, tlsa]]);
  for (let n = 0; n < good.length; n++) {
    assert.throws(() => decodeResponse(good.slice(0, n), q), DnsFormatError, `cut at ${n}`);
  }
  const selfPointer = response(q, 0x81a0, [[Uint8Array.from([0xc0, 0]), TYPE_TLSA, tlsa]]);
  // The owner's pointer at its own offset would loop: it must point back.
  const at = 12 + encodeName(q.name).length + 4;
  selfPointer[at + 1] = at;
  assert.throws(() => decodeResponse(selfPointer, q), /point back/);
  const many = response(q, 0x81a0, []);
  many[6] = 0xff;
  assert.throws(() => decodeResponse(many, q), /too many/);
  const longRdata = response(q, 0x81a0, [[toQuestion, TYPE_TLSA, tlsa]]);
  longRdata[longRdata.length - tlsa.length - 2] = 0xff;
  assert.throws(() => decodeResponse(longRdata, q), /past the message/);
  // Random bytes in every position never throw anything but DnsFormatError.
  for (let i = 0; i < good.length; i++) {
    for (const v of [0x00, 0x3f, 0xc0, 0xff]) {
      const m = Uint8Array.from(good);
      m[i] = v;
      try {
        decodeResponse(m, q);
      } catch (e) {
        assert.ok(e instanceof DnsFormatError, `byte ${i} = ${v}: ${String(e)}`);
      }
    }
  }
});

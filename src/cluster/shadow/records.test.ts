import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeRecords, encodeRecord } from "./records.js";

const ID = "0MX7LM0IJ0000YKM5";
const bytes = (...rs: Parameters<typeof encodeRecord>[0][]): Buffer =>
  Buffer.concat(rs.flatMap(encodeRecord));

test("records round-trip in order, data given in chunks comes back whole", () => {
  const buf = bytes(
    { kind: "reset" },
    { kind: "add", id: ID, data: [Buffer.from("hello "), Buffer.from("world")] },
    { kind: "state", id: ID, data: [Buffer.from("{}")] },
    { kind: "drop", id: ID },
  );
  const d = decodeRecords(buf);
  assert.ok(typeof d !== "string");
  assert.equal(d.torn, 0);
  assert.deepEqual(
    d.records.map((r) => [r.kind, "id" in r ? r.id : null, "data" in r ? r.data.toString() : null]),
    [
      ["reset", null, null],
      ["add", ID, "hello world"],
      ["state", ID, "{}"],
      ["drop", ID, null],
    ],
  );
});

test("a torn tail is counted, not decoded; bad records are refused", () => {
  const whole = bytes({ kind: "add", id: ID, data: [Buffer.alloc(100, 1)] }, { kind: "drop", id: ID });
  const cut = decodeRecords(whole.subarray(0, whole.length - 3));
  assert.ok(typeof cut !== "string");
  assert.equal(cut.records.length, 1);
  assert.equal(cut.torn, whole.length - 3 - (6 + ID.length + 100));
  const bad = Buffer.from(whole);
  bad[0] = 9;
  assert.match(decodeRecords(bad) as string, /unknown record kind/);
  const badId = bytes({ kind: "drop", id: ID });
  badId.write("../", 6, "latin1");
  assert.match(decodeRecords(badId) as string, /invalid queue id/);
  assert.throws(() => encodeRecord({ kind: "drop", id: "../etc" }), /invalid queue id/);
});

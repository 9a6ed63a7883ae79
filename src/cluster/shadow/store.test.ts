import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryLogSink } from "../../../test/kit/log.js";
import { encodeRecord, type ShadowRecord } from "./records.js";
import { createShadowStore, type ShadowStoreOptions } from "./store.js";

const id = (n: number): string => `0MX7LM0IJ0000${String(n).padStart(4, "0")}`;
const batch = (...rs: ShadowRecord[]): Buffer => Buffer.concat(rs.flatMap(encodeRecord));
const add = (n: number, size = 10): ShadowRecord => ({
  kind: "add",
  id: id(n),
  data: [Buffer.alloc(size, n)],
});

async function fresh(t: { after(fn: () => Promise<void>): void }, over: Partial<ShadowStoreOptions> = {}) {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-shadows-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const log = memoryLogSink();
  const make = () =>
    createShadowStore({ dir, maxMessages: 1000, maxBytes: 10_000_000, log: log.for("QUEUE"), ...over });
  const store = make();
  await store.open();
  return { dir, store, make, log };
}

test("copies are kept per primary until dropped or reset, and come back as sent", async (t) => {
  const { store } = await fresh(t);
  assert.deepEqual(await store.apply("f1", batch(add(1), add(2), add(3, 5))), { ok: true, records: 3 });
  assert.deepEqual((await store.apply("f2", batch(add(1)))).ok, true);
  assert.deepEqual(store.ids("f1").sort(), [id(1), id(2), id(3)]);
  assert.equal(store.count(), 4);
  await store.apply(
    "f1",
    batch({ kind: "drop", id: id(2) }, { kind: "state", id: id(3), data: [Buffer.from("{}")] }),
  );
  const held = await store.read("f1");
  assert.deepEqual(held.map((h) => h.id).sort(), [id(1), id(3)]);
  const three = held.find((h) => h.id === id(3))!;
  assert.deepEqual(three.file, Buffer.alloc(5, 3));
  assert.equal(three.state?.toString(), "{}");
  await store.apply("f1", batch({ kind: "reset" }, add(9)));
  assert.deepEqual(store.ids("f1"), [id(9)]);
  assert.deepEqual(store.ids("f2"), [id(1)], "another primary's copies are not touched");
  await store.discard("f2");
  assert.deepEqual(store.origins(), ["f1"]);
  await store.close();
});

test("a restart rebuilds the same copies from the segments; a torn tail is ignored", async (t) => {
  const { store, make, dir, log } = await fresh(t);
  await store.apply("f1", batch(add(1), add(2)));
  await store.apply(
    "f1",
    batch({ kind: "drop", id: id(1) }, { kind: "state", id: id(2), data: [Buffer.from("[2]")] }),
  );
  await store.close();
  const [seg] = await readdir(join(dir, "f1"));
  // A batch cut short by a crash: never acknowledged, so never counted.
  await appendFile(join(dir, "f1", seg!), batch(add(7, 100)).subarray(0, 50));
  const again = make();
  await again.open();
  assert.deepEqual(again.ids("f1"), [id(2)]);
  assert.equal((await again.read("f1"))[0]!.state?.toString(), "[2]");
  assert.ok(log.records.some((r) => r.text === "shadow segment ends in a torn batch"));
  // New batches go to a new segment, after the torn one.
  await again.apply("f1", batch(add(3)));
  assert.deepEqual(again.ids("f1").sort(), [id(2), id(3)]);
  await again.close();
});

test("the bounds refuse new copies, never drops; a bad batch is refused whole", async (t) => {
  const { store } = await fresh(t, { maxMessages: 2 });
  await store.apply("f1", batch(add(1), add(2)));
  assert.deepEqual(await store.apply("f1", batch(add(3))), { ok: false, why: "full" });
  assert.equal((await store.apply("f1", batch({ kind: "drop", id: id(1) }))).ok, true);
  assert.equal((await store.apply("f1", batch(add(3)))).ok, true);
  const torn = batch(add(4));
  assert.deepEqual(await store.apply("f1", torn.subarray(0, torn.length - 1)), {
    ok: false,
    why: "batch ends inside a record",
  });
  assert.deepEqual(store.ids("f1").sort(), [id(2), id(3)]);
  await store.close();
});

test("finished segments are deleted and a long-lived copy is moved forward, so the log stays short", async (t) => {
  const { store, dir, make } = await fresh(t, { rotateBytes: 100 });
  await store.apply("f1", batch(add(1, 200)));
  // Every later message is finished at once; message 1 stays for days.
  for (let n = 2; n < 40; n++) {
    await store.apply("f1", batch(add(n, 200)));
    await store.apply("f1", batch({ kind: "drop", id: id(n) }));
  }
  const segs = await readdir(join(dir, "f1"));
  assert.ok(segs.length <= 10, `${segs.length} segments left`);
  assert.ok(!segs.includes("000000000001.seg"), "the first segment was compacted away");
  assert.deepEqual(store.ids("f1"), [id(1)]);
  assert.deepEqual((await store.read("f1"))[0]!.file, Buffer.alloc(200, 1));
  assert.ok(store.bytes() < 10 * 400);
  await store.close();
  const again = make();
  await again.open();
  assert.deepEqual(again.ids("f1"), [id(1)]);
  await again.close();
});

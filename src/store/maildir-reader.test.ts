// The Maildir reader against real folders, including the races it must survive: a message moved
// new/ → cur/ or deleted by another reader after the listing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, rename, unlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { baseName, byDeliveryName, createMaildirReader, uniqueId } from "./maildir-reader.js";
import { tempDir } from "../../test/kit/temp-dir.js";

async function box(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await tempDir(t, "mailyard-reader-");
  for (const sub of ["tmp", "new", "cur"]) await mkdir(join(dir, sub));
  return dir;
}

void test("lists new/ and cur/ oldest first with sizes; tmp/ and dot files are not messages", async (t) => {
  const b = await box(t);
  await writeFile(join(b, "new", "200.M1.h,S=3"), "two");
  await writeFile(join(b, "cur", "100.M1.h,S=3:2,S"), "one");
  await writeFile(join(b, "tmp", "300.M1.h"), "half");
  await writeFile(join(b, "new", ".hidden"), "x");
  await utimes(join(b, "cur", "100.M1.h,S=3:2,S"), 100, 100);
  await utimes(join(b, "new", "200.M1.h,S=3"), 200, 200);
  const r = createMaildirReader();
  const list = await r.list(b);
  assert.deepEqual(
    list.map((e) => [e.sub, e.base, e.size]),
    [
      ["cur", "100.M1.h,S=3", 3],
      ["new", "200.M1.h,S=3", 3],
    ],
  );
  assert.deepEqual(await r.list(join(b, "absent")), []);
});

void test("messages with the same file time keep the order of the times in their names, as numbers", async (t) => {
  // Stored within one kernel tick: equal mtimes. M99000 (…0.099 s) came before M100000 (…0.100 s),
  // which sorts first as text.
  const b = await box(t);
  const names = ["1700000000.M99000P7Q1.h", "1700000000.M100000P7Q2.h", "1700000001.M5P7Q3.h"];
  for (const n of [...names].reverse()) {
    await writeFile(join(b, "new", n), "x");
    await utimes(join(b, "new", n), 1_700_000_000, 1_700_000_000);
  }
  const list = await createMaildirReader().list(b);
  assert.deepEqual(
    list.map((e) => e.base),
    names,
  );
  assert.ok(byDeliveryName("not.a.maildir.name", "other") < 0, "other names: as text");
});

void test("read and remove find a message moved behind the reader's back; gone is not an error", async (t) => {
  const b = await box(t);
  await writeFile(join(b, "new", "1.A.h"), "body");
  const r = createMaildirReader();
  const [e] = await r.list(b);
  await rename(join(b, "new", "1.A.h"), join(b, "cur", "1.A.h:2,RS"));
  assert.equal((await r.read(b, e!))?.toString(), "body");
  assert.equal(await r.remove(b, e!), "removed");
  assert.deepEqual(await readdir(join(b, "cur")), []);
  assert.equal(await r.read(b, e!), null);
  assert.equal(await r.remove(b, e!), "gone");
});

void test("markSeen moves new/ to cur/ with :2,S; a vanished file is left alone", async (t) => {
  const b = await box(t);
  await writeFile(join(b, "new", "1.B.h"), "x");
  await writeFile(join(b, "new", "2.B.h"), "y");
  const r = createMaildirReader();
  const [one, two] = await r.list(b);
  await r.markSeen(b, one!);
  await unlink(join(b, "new", "2.B.h"));
  await r.markSeen(b, two!);
  assert.deepEqual(await readdir(join(b, "cur")), ["1.B.h:2,S"]);
  assert.deepEqual(await readdir(join(b, "new")), []);
});

void test("unique ids: the base name when it is UIDL-safe, else a stable digest", () => {
  assert.equal(baseName("1.A.h:2,S"), "1.A.h");
  assert.equal(uniqueId("1.A.h"), "1.A.h");
  const long = uniqueId("x".repeat(100));
  assert.match(long, /^[0-9a-f]{40}$/);
  assert.equal(uniqueId("x".repeat(100)), long);
  assert.match(uniqueId("with space"), /^[0-9a-f]{40}$/);
});

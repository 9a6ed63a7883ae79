// Maildir++ quota on real folders: the file is built from a scan, changes are appended and summed,
// and it is rebuilt when a rule says so (a file removed by hand, a changed limit, too large, too
// old); a mailbox that does not exist is null and is not created.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { memoryLogSink } from "../../test/kit/log.js";
import { createMaildirStore } from "./maildir.js";
import { createMaildirReader } from "./maildir-reader.js";
import { MAILDIRSIZE, mailboxUsage, recordUsage } from "./maildirsize.js";
import { tempDir } from "../../test/kit/temp-dir.js";

async function fixture(t: { after(fn: () => Promise<void>): void }) {
  const root = await tempDir(t, "mailyard-maildirsize-");
  const store = createMaildirStore(root, memoryLogSink().for("LOCAL"));
  const box = store.folder("example.test", "alice");
  const put = (text: string, folder?: string) =>
    folder === undefined
      ? store.deliver("example.test", "alice", Readable.from([Buffer.from(text)]), Buffer.alloc(0))
      : store.begin("example.test", "alice", Buffer.alloc(0), { folder }).then(async (w) => {
          await w.write(Buffer.from(text));
          return w.commit();
        });
  return { root, store, box, put };
}

void test("usage counts every folder, follows deliveries and deletions, and is written as Maildir++", async (t) => {
  const f = await fixture(t);
  assert.equal(await f.store.usage("example.test", "alice", 1000), null, "no mailbox yet");
  await assert.rejects(stat(f.box), "usage() does not create the mailbox");
  await f.put("a".repeat(100));
  await f.put("b".repeat(50), "Archive");
  assert.deepEqual(await f.store.usage("example.test", "alice", 1000), { bytes: 150, count: 2 });
  assert.equal(await readFile(join(f.box, MAILDIRSIZE), "utf8"), "1000S\n150 2\n");
  // now the file exists, each delivery appends its line
  await f.put("c".repeat(30));
  assert.equal(await readFile(join(f.box, MAILDIRSIZE), "utf8"), "1000S\n150 2\n30 1\n");
  assert.deepEqual(await f.store.usage("example.test", "alice", 1000), { bytes: 180, count: 3 });
  // a POP3-style deletion through the reader appends a negative line
  const reader = createMaildirReader();
  const [first] = await reader.list(f.box);
  assert.equal(await reader.remove(f.box, first!), "removed");
  const lines = (await readFile(join(f.box, MAILDIRSIZE), "utf8")).trim().split("\n");
  assert.equal(lines[lines.length - 1], `-${first!.size} -1`);
  assert.deepEqual(await f.store.usage("example.test", "alice", 1000), {
    bytes: 180 - first!.size,
    count: 2,
  });
});

void test("a file removed by hand is noticed (its folder changed after maildirsize); so is a new limit", async (t) => {
  const f = await fixture(t);
  const kept = await f.put("k".repeat(70));
  const gone = await f.put("g".repeat(40));
  assert.deepEqual(await f.store.usage("example.test", "alice", 500), { bytes: 110, count: 2 });
  // written a second ago (file times move in ticks: a change in the same tick is not seen)
  const earlier = new Date(Date.now() - 1000);
  await utimes(join(f.box, MAILDIRSIZE), earlier, earlier);
  await unlink(gone.path);
  assert.deepEqual(await f.store.usage("example.test", "alice", 500), { bytes: 70, count: 1 });
  assert.equal(await readFile(join(f.box, MAILDIRSIZE), "utf8"), "500S\n70 1\n");
  assert.deepEqual(await f.store.usage("example.test", "alice", 900), { bytes: 70, count: 1 });
  assert.equal(await readFile(join(f.box, MAILDIRSIZE), "utf8"), "900S\n70 1\n");
  assert.ok(kept.path.includes(",S=70"));
});

void test("maildirsize is rebuilt when larger than 5120 bytes, older than 15 minutes, or malformed", async (t) => {
  const f = await fixture(t);
  await f.put("x".repeat(10));
  // the folders last changed a minute ago: only the file's own state decides below
  const before = new Date(Date.now() - 60_000);
  for (const sub of ["new", "cur"]) await utimes(join(f.box, sub), before, before);
  const path = join(f.box, MAILDIRSIZE);
  // A file whose figures are wrong (as if written by a buggy program) but fresh and small is believed.
  await writeFile(path, "100S\n999 9\n");
  assert.deepEqual(await mailboxUsage(f.box, 100, Date.now), { bytes: 999, count: 9 });
  // older than 15 minutes: rebuilt from the folders
  const old = new Date(Date.now() - 16 * 60 * 1000);
  await utimes(path, old, old);
  assert.deepEqual(await mailboxUsage(f.box, 100, Date.now), { bytes: 10, count: 1 });
  // larger than 5120 bytes: rebuilt
  await writeFile(path, "100S\n" + "1 0\n".repeat(1500));
  assert.deepEqual(await mailboxUsage(f.box, 100, Date.now), { bytes: 10, count: 1 });
  // malformed: rebuilt
  await writeFile(path, "garbage\n");
  assert.deepEqual(await mailboxUsage(f.box, 100, Date.now), { bytes: 10, count: 1 });
  // Dovecot's two-limit first line is read too
  await writeFile(path, "100S,50C\n10 1\n-10 -1\n");
  assert.deepEqual(await mailboxUsage(f.box, 100, Date.now), { bytes: 0, count: 0 });
});

void test("recordUsage does not create a maildirsize: a lone change line would be no quota file", async (t) => {
  const f = await fixture(t);
  await mkdir(f.box, { recursive: true });
  await recordUsage(f.box, 10, 1);
  await assert.rejects(stat(join(f.box, MAILDIRSIZE)));
});

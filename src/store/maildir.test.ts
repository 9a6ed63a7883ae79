// Maildir store on real files: layout, content, names, concurrency, failures, unsafe names.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { Readable } from "node:stream";
import { silentLog } from "../../test/kit/log.js";
import { createMaildirStore, subfolderName } from "./maildir.js";
import { tempDir } from "../../test/kit/temp-dir.js";

async function tempRoot(t: TestContext): Promise<string> {
  const tmp = await tempDir(t, "mailyard-maildir-");
  return join(tmp, "mail");
}

const prepend = Buffer.from("Return-Path: <bob@remote.test>\r\nDelivered-To: alice@example.test\r\n");
const message = "Subject: hello\r\nFrom: bob@remote.test\r\n\r\nbody line\r\n";

void test("first delivery creates cur/new/tmp and lands in new/ with the lines on top", async (t) => {
  const root = await tempRoot(t);
  const store = createMaildirStore(root, silentLog("LOCAL"), {
    hostname: "mx:1/a",
    now: () => 1_700_000_000_123,
  });
  const r = await store.deliver("example.test", "alice", Readable.from([Buffer.from(message)]), prepend);
  const box = join(root, "example.test", "alice");
  assert.deepEqual((await readdir(box)).sort(), ["cur", "new", "tmp"]);
  assert.deepEqual(await readdir(join(box, "tmp")), []);
  assert.deepEqual(await readdir(join(box, "cur")), []);
  const files = await readdir(join(box, "new"));
  assert.equal(files.length, 1);
  assert.equal(r.path, join(box, "new", files[0]!));
  const content = await readFile(r.path, "utf8");
  assert.equal(content, prepend.toString() + message);
  assert.equal(r.size, Buffer.byteLength(content));
  // time.M<usec>P<pid>Q<n>.<host>,S=<size>, with "/" and ":" escaped in the host name.
  assert.match(
    files[0]!,
    new RegExp(`^1700000000\\.M\\d+P${process.pid}Q\\d+\\.mx\\\\0721\\\\057a,S=${r.size}$`),
  );
  assert.equal((await stat(r.path)).mode & 0o777, 0o600);
  assert.equal(store.folder("Example.TEST", "Alice"), box);
});

void test("streams a large message in many chunks", async (t) => {
  const root = await tempRoot(t);
  const store = createMaildirStore(root, silentLog("LOCAL"));
  const chunk = Buffer.alloc(64 * 1024, "x");
  function* gen() {
    for (let i = 0; i < 64; i++) yield chunk;
  }
  const r = await store.deliver("example.test", "alice", Readable.from(gen()), Buffer.alloc(0));
  assert.equal(r.size, 64 * chunk.length);
  assert.equal((await stat(r.path)).size, r.size);
});

void test("concurrent deliveries to one folder all land, with distinct names", async (t) => {
  const root = await tempRoot(t);
  const store = createMaildirStore(root, silentLog("LOCAL"), { now: () => 1_700_000_000_000 });
  const n = 50;
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      store.deliver(
        "example.test",
        "alice",
        Readable.from([Buffer.from(`Subject: ${i}\r\n\r\nx\r\n`)]),
        prepend,
      ),
    ),
  );
  const box = join(root, "example.test", "alice");
  const files = await readdir(join(box, "new"));
  assert.equal(files.length, n);
  assert.equal(new Set(results.map((r) => r.path)).size, n);
  assert.deepEqual(await readdir(join(box, "tmp")), []);
  const subjects = new Set<string>();
  for (const f of files)
    subjects.add(/Subject: (\d+)/.exec(await readFile(join(box, "new", f), "utf8"))?.[1] ?? "");
  assert.equal(subjects.size, n);
});

void test("a failing source stream leaves nothing in new/ or tmp/", async (t) => {
  const root = await tempRoot(t);
  const store = createMaildirStore(root, silentLog("LOCAL"));
  const broken = new Readable({
    read() {
      this.push(Buffer.from("Subject: half\r\n"));
      this.destroy(Object.assign(new Error("disk gone"), { code: "EIO" }));
    },
  });
  await assert.rejects(store.deliver("example.test", "alice", broken, prepend), /disk gone/);
  const box = join(root, "example.test", "alice");
  assert.deepEqual(await readdir(join(box, "new")), []);
  assert.deepEqual(await readdir(join(box, "tmp")), []);
});

void test("a folder removed behind the store's back is recreated", async (t) => {
  const root = await tempRoot(t);
  const store = createMaildirStore(root, silentLog("LOCAL"));
  await store.deliver("example.test", "alice", Readable.from([Buffer.from(message)]), prepend);
  await rm(join(root, "example.test"), { recursive: true });
  const r = await store.deliver("example.test", "alice", Readable.from([Buffer.from(message)]), prepend);
  assert.equal(basename(join(r.path, "..")), "new");
  assert.equal((await readdir(join(root, "example.test", "alice", "new"))).length, 1);
});

void test("unsafe folder names are refused", async (t) => {
  const root = await tempRoot(t);
  const store = createMaildirStore(root, silentLog("LOCAL"));
  for (const [d, l] of [
    ["example.test", ".."],
    ["..", "alice"],
    ["example.test", "a/b"],
    ["example.test", "a\\b"],
    ["example.test", ""],
    ["example.test", ".hidden"],
  ] as const) {
    await assert.rejects(
      store.deliver(d, l, Readable.from([Buffer.from(message)]), prepend),
      /unsafe maildir/,
      `${d} ${l}`,
    );
  }
  await assert.rejects(stat(join(root, "..", "alice")));
});

test("a placement stores into a Maildir++ subfolder (with maildirfolder) and flags into cur/ as :2, info", async (t) => {
  const root = await tempDir(t, "mailyard-maildir-place-");
  const store = createMaildirStore(root, silentLog("LOCAL"));
  const w = await store.begin("example.test", "alice", Buffer.from("X: 1\r\n"), {
    folder: "Lists/Dev",
    flags: "SF",
  });
  await w.write(Buffer.from("Subject: s\r\n\r\nbody\r\n"));
  const stored = await w.commit();
  const box = join(root, "example.test", "alice", ".Lists.Dev");
  assert.equal(stored.path.startsWith(join(box, "cur")), true);
  assert.match(basename(stored.path), /,S=\d+:2,FS$/);
  assert.equal((await stat(join(box, "maildirfolder"))).size, 0);
  assert.deepEqual(await readdir(join(box, "new")), []);
  assert.equal(subfolderName("Junk"), ".Junk");
  for (const bad of ["", "a/../b", ".hidden", "a.b", "a\\b", "a/\u0001"])
    assert.throws(() => subfolderName(bad), /unsafe folder/);
});

void test("the first delivery of a process to a folder removes tmp/ files untouched for 36 hours", async (t) => {
  const root = await tempRoot(t);
  const box = join(root, "example.test", "alice");
  await mkdir(join(box, "tmp"), { recursive: true });
  await mkdir(join(box, "new"), { recursive: true });
  await mkdir(join(box, "cur"), { recursive: true });
  const now = 1_800_000_000_000;
  const hours = (h: number) => (now - h * 3600_000) / 1000;
  await writeFile(join(box, "tmp", "crashed"), "partial");
  await utimes(join(box, "tmp", "crashed"), hours(37), hours(37));
  await writeFile(join(box, "tmp", "recent"), "in flight elsewhere");
  await utimes(join(box, "tmp", "recent"), hours(35), hours(35));
  const store = createMaildirStore(root, silentLog("LOCAL"), { now: () => now });
  await store.deliver("example.test", "alice", Readable.from([Buffer.from(message)]), prepend);
  assert.deepEqual(await readdir(join(box, "tmp")), ["recent"]);
  assert.equal((await readdir(join(box, "new"))).length, 1);
});

void test("modes: the node user's alone by default; with groupAccess 0660 files and 2770 folders past a 077 umask", async (t) => {
  const modes = async (root: string, groupAccess: boolean) => {
    const store = createMaildirStore(root, silentLog("LOCAL"), { groupAccess });
    const r = await store.deliver("example.test", "alice", Readable.from([Buffer.from(message)]), prepend);
    const w = await store.begin("example.test", "alice", prepend, { folder: "Lists" });
    await w.write(Buffer.from(message));
    const sub = await w.commit();
    const box = join(root, "example.test", "alice");
    const dirs = [
      root,
      join(root, "example.test"),
      box,
      join(box, "new"),
      join(box, "tmp"),
      join(box, ".Lists"),
    ];
    return {
      files: [r.path, sub.path, join(box, ".Lists", "maildirfolder")].map(
        async (p) => (await stat(p)).mode & 0o7777,
      ),
      dirs: dirs.map(async (p) => (await stat(p)).mode & 0o7777),
    };
  };
  const old = process.umask(0o077);
  t.after(() => process.umask(old));
  const shared = await modes(await tempRoot(t), true);
  assert.deepEqual(await Promise.all(shared.files), [0o660, 0o660, 0o660]);
  assert.deepEqual(await Promise.all(shared.dirs), Array(6).fill(0o2770));
  process.umask(0o022);
  const own = await modes(await tempRoot(t), false);
  assert.deepEqual(await Promise.all(own.files), [0o600, 0o600, 0o600]);
  assert.deepEqual(await Promise.all(own.dirs), Array(6).fill(0o700));
});

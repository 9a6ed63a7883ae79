// The spool on real files in a temp dir: commit/reopen, quarantine, crash recovery, group commit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile, readFile, truncate, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { createSpool } from "../../src/queue/spool.js";
import type { Envelope } from "../../src/queue/envelope.js";
import { memoryLogSink } from "../kit/log.js";

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-spool-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const env = (id: string, size: number): Envelope => ({
  id,
  returnPath: "a@x.test",
  recipients: [
    { address: "b@y.test", original: null, notify: null, orcpt: null },
    {
      address: "c@y.test",
      original: "list@x.test",
      notify: ["SUCCESS", "FAILURE"],
      orcpt: "rfc822;c@y.test",
    },
  ],
  ret: null,
  envid: null,
  body: "8BITMIME",
  smtputf8: false,
  source: "smtp",
  authUser: null,
  client: { address: "127.0.0.1", port: 4000, helo: "h.test", tls: false },
  arrival: 1_700_000_000_000,
  size,
});

async function store(spool: ReturnType<typeof createSpool>, id: string, parts: Buffer[]): Promise<Envelope> {
  const w = await spool.begin(id);
  let size = 0;
  for (const p of parts) {
    size += p.length;
    await w.write(p);
  }
  const e = env(id, size);
  await w.commit(e);
  return e;
}

void test("committed messages survive a reopen with body, envelope and state", async (t) => {
  const dir = await tempDir(t);
  const sink = memoryLogSink();
  const spool = createSpool(dir, sink.for("QUEUE"));
  assert.deepEqual(await spool.open(), []);
  // Many tiny chunks (coalesced), one large one (written directly), then tiny again.
  const parts = [
    ...Array.from({ length: 500 }, (_, i) => Buffer.from(`Line ${i}\r\n`)),
    Buffer.alloc(300_000, 0x61),
    Buffer.from("\r\nend\r\n"),
  ];
  const e = await store(spool, "0000000000AAA1", parts);
  assert.deepEqual(await collect(spool.body(e.id)), Buffer.concat(parts));
  await spool.saveState(e.id, "held", [
    {
      status: "delivered",
      attempts: 1,
      nextAttempt: 0,
      lastReply: { code: 250, enhanced: "2.0.0", text: "ok" },
      lastRelay: "mailbox",
      warningsSent: 0,
      reported: true,
    },
    {
      status: "pending",
      attempts: 2,
      nextAttempt: 123,
      lastReply: null,
      lastRelay: null,
      warningsSent: 1,
      reported: false,
    },
  ]);

  const again = createSpool(dir, sink.for("QUEUE"));
  const loaded = await again.open();
  assert.equal(loaded.length, 1);
  assert.deepEqual(loaded[0]!.envelope, e);
  assert.equal(loaded[0]!.state, "held");
  assert.equal(loaded[0]!.recipients[0]!.status, "delivered");
  assert.equal(loaded[0]!.recipients[1]!.attempts, 2);
  assert.deepEqual(await collect(again.body(e.id)), Buffer.concat(parts));
});

void test("writes fired without awaiting keep their order", async (t) => {
  const dir = await tempDir(t);
  const spool = createSpool(dir, memoryLogSink().for("QUEUE"));
  await spool.open();
  const w = await spool.begin("0000000000AAB9");
  const parts: Buffer[] = [];
  for (let i = 0; i < 200; i++)
    parts.push(i % 7 === 0 ? Buffer.alloc(20_000 + i, 65 + (i % 26)) : Buffer.from(`small ${i}\r\n`));
  const writes = parts.map((p) => w.write(p));
  const size = parts.reduce((n, p) => n + p.length, 0);
  const committed = w.commit(env("0000000000AAB9", size));
  await Promise.all([...writes, committed]);
  assert.deepEqual(await collect(spool.body("0000000000AAB9")), Buffer.concat(parts));
});

void test("a message without state starts with every recipient pending", async (t) => {
  const dir = await tempDir(t);
  const spool = createSpool(dir, memoryLogSink().for("QUEUE"));
  await spool.open();
  await store(spool, "0000000000AAA2", [Buffer.from("x\r\n")]);
  const [m] = await createSpool(dir, memoryLogSink().for("QUEUE")).open();
  assert.equal(m!.state, "active");
  assert.deepEqual(
    m!.recipients.map((r) => [r.status, r.attempts]),
    [
      ["pending", 0],
      ["pending", 0],
    ],
  );
});

void test("an empty body is stored and streamed", async (t) => {
  const dir = await tempDir(t);
  const spool = createSpool(dir, memoryLogSink().for("QUEUE"));
  await spool.open();
  await store(spool, "0000000000AAA3", []);
  assert.equal((await collect(spool.body("0000000000AAA3"))).length, 0);
  assert.equal((await createSpool(dir, memoryLogSink().for("QUEUE")).open()).length, 1);
});

void test("unreadable files are moved to corrupt/ and logged, never deleted", async (t) => {
  const dir = await tempDir(t);
  const spool = createSpool(dir, memoryLogSink().for("QUEUE"));
  await spool.open();
  await store(spool, "0000000000AAA4", [Buffer.from("good\r\n")]);
  const bad = await store(spool, "0000000000AAA5", [Buffer.from("will be cut\r\n")]);
  const path = join(dir, "active", bad.id);
  await truncate(path, (await stat(path)).size - 5);
  await writeFile(join(dir, "active", "0000000000AAA6"), "garbage that is long enough to hold a trailer....");
  await writeFile(join(dir, "active", "not-an-id"), "x");
  await writeFile(join(dir, "state", "0000000000AAA4.json"), "{not json");

  const sink = memoryLogSink();
  const loaded = await createSpool(dir, sink.for("QUEUE")).open();
  assert.deepEqual(
    loaded.map((m) => m.envelope.id),
    ["0000000000AAA4"],
  );
  // Damaged state: the message is kept with fresh state; the state file is kept for inspection.
  assert.equal(loaded[0]!.recipients[0]!.status, "pending");
  const corrupt = (await readdir(join(dir, "corrupt"))).sort();
  assert.deepEqual(corrupt, ["0000000000AAA4.state.json", "0000000000AAA5", "0000000000AAA6", "not-an-id"]);
  assert.equal(sink.records.filter((r) => r.text === "unreadable queue file moved aside").length, 4);
  assert.equal((await readFile(join(dir, "corrupt", "0000000000AAA6"), "utf8")).startsWith("garbage"), true);
});

void test("crash recovery: unfinished receives are discarded, ready messages kept, orphan state dropped", async (t) => {
  const dir = await tempDir(t);
  const spool = createSpool(dir, memoryLogSink().for("QUEUE"));
  await spool.open();
  await store(spool, "0000000000AAA7", [Buffer.from("kept\r\n")]);
  const w = await spool.begin("0000000000AAA8");
  await w.write(Buffer.alloc(100_000, 0x62)); // never committed: the "crash"
  await writeFile(join(dir, "state", "0000000000AAA9.json"), "{}");
  await writeFile(join(dir, "state", "0000000000AAA7.json.tmp"), "{}");

  const loaded = await createSpool(dir, memoryLogSink().for("QUEUE")).open();
  assert.deepEqual(
    loaded.map((m) => m.envelope.id),
    ["0000000000AAA7"],
  );
  assert.deepEqual(await readdir(join(dir, "tmp")), []);
  assert.deepEqual(await readdir(join(dir, "state")), []);
  await w.abort();
});

void test("abort discards the temporary file; remove deletes message and state", async (t) => {
  const dir = await tempDir(t);
  const spool = createSpool(dir, memoryLogSink().for("QUEUE"));
  await spool.open();
  const w = await spool.begin("0000000000AAB1");
  await w.write(Buffer.from("x"));
  await w.abort();
  assert.deepEqual(await readdir(join(dir, "tmp")), []);
  await assert.rejects(w.write(Buffer.from("y")));

  const e = await store(spool, "0000000000AAB2", [Buffer.from("y\r\n")]);
  await spool.saveState(e.id, "active", []);
  await spool.remove(e.id);
  assert.deepEqual(await readdir(join(dir, "active")), []);
  assert.deepEqual(await readdir(join(dir, "state")), []);
  await assert.rejects(collect(spool.body(e.id)));
});

void test("group commit: concurrent commits share directory fsyncs", async (t) => {
  const dir = await tempDir(t);
  const spool = createSpool(dir, memoryLogSink().for("QUEUE"));
  await spool.open();
  const n = 40;
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      store(spool, `0000000000C${String(i).padStart(3, "0")}`, [Buffer.from(`m${i}\r\n`)]),
    ),
  );
  const s = spool.stats();
  assert.equal(s.dirSyncRequests, n);
  assert.ok(s.dirSyncs < n, `expected fewer than ${n} directory fsyncs, got ${s.dirSyncs}`);
  assert.ok(s.dirSyncs >= 1);
  assert.equal((await readdir(join(dir, "active"))).length, n);
});

void test("state saves queued for one message collapse to the newest", async (t) => {
  const dir = await tempDir(t);
  const spool = createSpool(dir, memoryLogSink().for("QUEUE"));
  await spool.open();
  const e = await store(spool, "0000000000AAB3", [Buffer.from("z\r\n")]);
  const st = (attempts: number) =>
    [0, 1].map(() => ({
      status: "pending" as const,
      attempts,
      nextAttempt: 0,
      lastReply: null,
      lastRelay: null,
      warningsSent: 0,
      reported: false,
    }));
  await Promise.all([1, 2, 3, 4, 5].map((a) => spool.saveState(e.id, "active", st(a))));
  const [m] = await createSpool(dir, memoryLogSink().for("QUEUE")).open();
  assert.equal(m!.recipients[0]!.attempts, 5);
});

void test("a small message is read back from memory until it has to wait; then from its file", async (t) => {
  const dir = await tempDir(t);
  const spool = createSpool(dir, memoryLogSink().for("QUEUE"));
  await spool.open();
  const parts = [Buffer.from("Subject: small\r\n\r\n"), Buffer.from("body\r\n")];
  const e = await store(spool, "0000000000AAC1", parts);
  const file = join(dir, "active", e.id);
  const onDisk = await readFile(file);
  // Damage the file's body bytes: the first delivery attempt must not need them.
  await writeFile(
    file,
    Buffer.concat([
      Buffer.alloc(Buffer.concat(parts).length, 0x21),
      onDisk.subarray(Buffer.concat(parts).length),
    ]),
  );
  assert.deepEqual(await collect(spool.body(e.id)), Buffer.concat(parts));
  // Once its state is saved (a deferral), the message is read from disk like any other.
  await spool.saveState(e.id, "active", []);
  assert.deepEqual(await collect(spool.body(e.id)), Buffer.alloc(Buffer.concat(parts).length, 0x21));
});

void test("bodies up to 1 MB are read back from memory as received; larger ones from their file", async (t) => {
  const dir = await tempDir(t);
  const spool = createSpool(dir, memoryLogSink().for("QUEUE"));
  await spool.open();
  const damaged = async (id: string, length: number): Promise<void> => {
    const file = join(dir, "active", id);
    const onDisk = await readFile(file);
    await writeFile(file, Buffer.concat([Buffer.alloc(length, 0x21), onDisk.subarray(length)]));
  };
  // 300 KB in pieces bigger than the coalescing buffer: written straight out, still kept.
  const mid = [Buffer.alloc(100_000, "a"), Buffer.alloc(100_000, "b"), Buffer.alloc(100_000, "c")];
  const m = await store(spool, "0000000000AAD1", mid);
  await damaged(m.id, 300_000);
  assert.deepEqual(await collect(spool.body(m.id)), Buffer.concat(mid));
  // Past 1 MB nothing is kept: the body comes from the file.
  const big = [Buffer.alloc(600_000, "d"), Buffer.alloc(600_000, "e")];
  const b = await store(spool, "0000000000AAD2", big);
  await damaged(b.id, 1_200_000);
  assert.deepEqual(await collect(spool.body(b.id)), Buffer.alloc(1_200_000, 0x21));
});

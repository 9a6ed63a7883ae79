// One RPOP poll (pollEntry) against Mailyard's own POP3 server as the remote side, over real
// sockets: keep mode remembers UIDLs (a second poll fetches nothing new), delete mode removes
// the fetched messages at QUIT, a refused submit leaves the message on the server and its UIDL
// unremembered, STLS with an unverified certificate, refused credentials and a dead host give
// the faults the scheduler backs off by, and the per-poll bounds leave the rest for later.
import { randomBytes } from "node:crypto";
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteRpopStore } from "../../src/sources/rpop/sqlite-store.js";
import { createPasswordSeal } from "../../src/sources/rpop/seal.js";
import { pollEntry, envelopeSender, type PollDeps } from "../../src/sources/rpop/poll.js";
import { pollClaimed, type ClaimOptions } from "../../src/sources/rpop/claimed-poll.js";
import type { RpopEntry, RpopEntrySpec, RpopStore } from "../../src/sources/rpop/store.js";
import type { SubmitResult, Submitter } from "../../src/queue/submit.js";
import type { EnvelopeDraft } from "../../src/queue/types.js";
import { systemClock } from "../../src/world/clock.js";
import { tcpDialer } from "../../src/world/dialer.js";
import { freePort } from "../kit/ports.js";
import { memoryLogSink } from "../kit/log.js";
import { startPop3, tempFailure, type Pop3Fixture } from "../pop3/fixtures.js";

interface Harness {
  remote: Pop3Fixture;
  store: RpopStore;
  submitted: { draft: EnvelopeDraft; message: Buffer }[];
  logs: ReturnType<typeof memoryLogSink>;
  refuse(r: SubmitResult | null): void;
  add(spec?: Partial<RpopEntrySpec>): Promise<RpopEntry>;
  poll(
    e: RpopEntry,
    limits?: Partial<PollDeps["limits"]>,
    hold?: () => Promise<boolean>,
  ): ReturnType<typeof pollEntry>;
  remoteFiles(): Promise<number>;
}

async function harness(t: TestContext, remoteSettings: Record<string, unknown> = {}): Promise<Harness> {
  const remote = await startPop3(t, { settings: remoteSettings });
  const dir = await mkdtemp(join(tmpdir(), "mailyard-rpop-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = openSqliteRpopStore(
    join(dir, "mailyard.db"),
    systemClock,
    createPasswordSeal(randomBytes(32)),
  );
  t.after(() => store.close());
  const submitted: { draft: EnvelopeDraft; message: Buffer }[] = [];
  let refusal: SubmitResult | null = null;
  let seq = 0;
  const submitter: Submitter = {
    submit(draft, message) {
      if (refusal !== null) return Promise.resolve(refusal);
      submitted.push({ draft, message });
      return Promise.resolve({ ok: true, id: `R${++seq}`, node: "node1", remote: false });
    },
  };
  const logs = memoryLogSink();
  return {
    remote,
    store,
    submitted,
    logs,
    refuse: (r) => (refusal = r),
    add: (spec = {}) =>
      store.add("carol@local.test", {
        host: "127.0.0.1",
        port: remote.port,
        tls: "none",
        tlsVerify: false,
        user: "alice@example.test",
        password: "s3cret pass",
        apop: false,
        keep: true,
        intervalSeconds: 60,
        ...spec,
      }),
    poll: (e, limits = {}, hold) =>
      pollEntry(e, {
        store,
        submitter,
        dialer: tcpDialer,
        clock: systemClock,
        hostname: "mx.local.test",
        limits: {
          maxMessages: 100,
          maxBytes: 10_000_000,
          maxMessageSize: 1_000_000,
          connectTimeoutMs: 5000,
          commandTimeoutMs: 5000,
          ...limits,
        },
        ...(hold !== undefined ? { hold } : {}),
        log: logs.for("RPOP"),
      }),
    async remoteFiles() {
      let n = 0;
      for (const sub of ["new", "cur"])
        n += (await readdir(join(remote.dir, "mail", "example.test", "alice", sub)).catch(() => [])).length;
      return n;
    },
  };
}

const M1 =
  "Return-Path: <bounce@origin.test>\r\nFrom: Ann <ann@origin.test>\r\nSubject: r1\r\n\r\n.dot line\r\nbody\r\n";
const M2 = "From: Ben <ben@origin.test>\r\nSubject: r2\r\n\r\nsecond\r\n";

void test("keep mode: fetches each message once, submits it for the account with source rpop", async (t) => {
  const h = await harness(t);
  await h.remote.deliver(M1);
  await h.remote.deliver(M2);
  const e = await h.add();
  const first = await h.poll(e);
  assert.deepEqual(first, { kind: "ok", fetched: 2, deleted: 0, skipped: 0, more: false });
  assert.equal(h.submitted.length, 2);
  const [a, b] = h.submitted;
  assert.equal(a!.draft.source, "rpop");
  assert.deepEqual(
    a!.draft.recipients.map((r) => r.address),
    ["carol@local.test"],
  );
  assert.equal(a!.draft.returnPath, "bounce@origin.test", "Return-Path first");
  assert.equal(b!.draft.returnPath, "ben@origin.test", "else From");
  const text = a!.message.toString();
  assert.match(
    text,
    /^Received: from 127\.0\.0\.1 by mx\.local\.test \(Mailyard\) with RPOP\r\n\tfor <carol@local\.test>;/,
  );
  assert.ok(!/^Return-Path:/im.test(text), "the envelope carries it; delivery adds its own");
  assert.match(text, /\r\n\r\n\.dot line\r\nbody\r\n$/, "dot-unstuffed, CRLF");
  assert.equal((await h.store.seen(e.id)).size, 2);
  assert.ok(h.logs.records.some((r) => r.text === "message submitted" && r.fields["source"] === "rpop"));

  const second = await h.poll(e);
  assert.deepEqual(second, { kind: "ok", fetched: 0, deleted: 0, skipped: 0, more: false });
  assert.equal(h.submitted.length, 2, "UIDL memory: nothing fetched twice");
  assert.equal(await h.remoteFiles(), 2, "kept on the server");
  await h.remote.deliver("From: c@origin.test\r\nSubject: r3\r\n\r\nthird\r\n");
  assert.equal((await h.poll(e)).kind, "ok");
  assert.equal(h.submitted.length, 3);
  assert.match(h.submitted[2]!.message.toString(), /Subject: r3/);
});

void test("delete mode removes the fetched messages on the server (DELE, applied at QUIT)", async (t) => {
  const h = await harness(t);
  await h.remote.deliver(M1);
  await h.remote.deliver(M2);
  const e = await h.add({ keep: false });
  assert.deepEqual(await h.poll(e), { kind: "ok", fetched: 2, deleted: 2, skipped: 0, more: false });
  assert.equal(await h.remoteFiles(), 0);
  assert.deepEqual(await h.poll(e), { kind: "ok", fetched: 0, deleted: 0, skipped: 0, more: false });
  assert.equal((await h.store.seen(e.id)).size, 0, "pruned: nothing of it is left on the server");
});

void test("a refused submit keeps the message on the server and does not remember it", async (t) => {
  const h = await harness(t);
  await h.remote.deliver(M1);
  const e = await h.add({ keep: false });
  h.refuse(tempFailure);
  const r = await h.poll(e);
  assert.equal(r.kind, "failed");
  assert.equal(r.kind === "failed" ? r.fault : "", "submit");
  assert.equal(await h.remoteFiles(), 1, "still on the remote server");
  assert.equal((await h.store.seen(e.id)).size, 0);
  assert.ok(
    h.logs.records.some((x) => x.text === "submit refused, message left on the server" && x.level === 3),
  );
  h.refuse(null);
  assert.deepEqual(await h.poll(e), { kind: "ok", fetched: 1, deleted: 1, skipped: 0, more: false });
  assert.equal(await h.remoteFiles(), 0);
});

void test("STLS with an unverified certificate; verification refuses the self-signed one", async (t) => {
  const h = await harness(t, { pop3: { authRequiresTls: true } });
  await h.remote.deliver(M1);
  const plain = await h.poll(await h.add({ tls: "none" }));
  assert.equal(plain.kind === "failed" ? plain.fault : "", "auth", "logins need TLS on that server");
  assert.equal((await h.poll(await h.add({ tls: "stls", tlsVerify: false }))).kind, "ok");
  assert.equal(h.submitted.length, 1);
  const verified = await h.poll(await h.add({ tls: "stls", tlsVerify: true }));
  assert.equal(verified.kind === "failed" ? verified.fault : "", "host");
  assert.match(verified.kind === "failed" ? verified.error : "", /TLS/);
});

void test("refused credentials are an auth fault; a dead host a host fault; APOP without a timestamp an entry fault", async (t) => {
  const h = await harness(t);
  const bad = await h.poll(await h.add({ password: "wrong" }));
  assert.equal(bad.kind === "failed" ? bad.fault : "", "auth");
  const dead = await h.poll(await h.add({ port: await freePort() }));
  assert.equal(dead.kind === "failed" ? dead.fault : "", "host");
  const apop = await h.poll(await h.add({ apop: true }));
  assert.equal(apop.kind === "failed" ? apop.fault : "", "entry");
  assert.match(apop.kind === "failed" ? apop.error : "", /APOP/);
});

void test("per-poll bounds: count and bytes leave the rest for the next poll; too big is skipped", async (t) => {
  const h = await harness(t);
  for (let i = 0; i < 5; i++) await h.remote.deliver(`Subject: n${i}\r\n\r\n${"x".repeat(1000)}\r\n`);
  await h.remote.deliver(`Subject: huge\r\n\r\n${"y".repeat(5000)}\r\n`);
  const e = await h.add();
  const r1 = await h.poll(e, { maxMessages: 2, maxMessageSize: 4000 });
  assert.deepEqual(r1, { kind: "ok", fetched: 2, deleted: 0, skipped: 0, more: true });
  const r2 = await h.poll(e, { maxBytes: 2500, maxMessageSize: 4000 });
  assert.deepEqual(r2, { kind: "ok", fetched: 2, deleted: 0, skipped: 0, more: true });
  const r3 = await h.poll(e, { maxMessageSize: 4000 });
  assert.deepEqual(r3, { kind: "ok", fetched: 1, deleted: 0, skipped: 1, more: false });
  assert.deepEqual(
    h.submitted.map((s) => /Subject: (\w+)/.exec(s.message.toString())![1]),
    ["n0", "n1", "n2", "n3", "n4"],
  );
});

void test("under a claim: another poller of the entry is told elsewhere while a poll runs, and may poll once it is released", async (t) => {
  const h = await harness(t);
  await h.remote.deliver(M1);
  await h.remote.deliver(M2);
  const e = await h.add();
  const as = (holder: string): ClaimOptions => ({
    store: h.store,
    holder,
    clock: systemClock,
    ttlMs: 60_000,
    log: h.logs.for("RPOP"),
  });
  let meanwhile: Awaited<ReturnType<typeof pollClaimed>> | null = null;
  const out = await pollClaimed(e, as("n1"), async (hold) => {
    meanwhile = await pollClaimed(e, as("n2"), () => Promise.reject(new Error("n2 polled a claimed entry")));
    return h.poll(e, {}, hold);
  });
  assert.deepEqual(meanwhile, { kind: "elsewhere" });
  assert.deepEqual(out, { kind: "ok", fetched: 2, deleted: 0, skipped: 0, more: false });
  assert.ok(
    h.logs.records.some((r) => r.text === "entry being polled elsewhere" && r.fields["entry"] === e.id),
  );
  const after = await pollClaimed(e, as("n2"), (hold) => h.poll(e, {}, hold));
  assert.deepEqual(
    after,
    { kind: "ok", fetched: 0, deleted: 0, skipped: 0, more: false },
    "released, and nothing fetched twice",
  );
  assert.equal(h.submitted.length, 2);
});

void test("a claim lost mid-poll (expired, taken by another holder) ends the poll before the next message", async (t) => {
  const h = await harness(t);
  await h.remote.deliver(M1);
  await h.remote.deliver(M2);
  const e = await h.add();
  const now = Date.now();
  const ttl = 60_000;
  assert.equal(await h.store.claim(e.id, "n1", now, now + ttl), true);
  let renewals = 0;
  const hold = async (): Promise<boolean> => {
    // Before the second message: n1's claim has run out and n2 took the entry.
    if (++renewals === 2) assert.equal(await h.store.claim(e.id, "n2", now + 2 * ttl, now + 3 * ttl), true);
    return h.store.claim(e.id, "n1", now, now + ttl);
  };
  const out = await h.poll(e, {}, hold);
  assert.deepEqual(out, { kind: "ok", fetched: 1, deleted: 0, skipped: 0, more: false });
  assert.equal(renewals, 2);
  assert.equal(h.submitted.length, 1);
  assert.equal((await h.store.seen(e.id)).size, 1, "what was fetched is remembered for the new holder");
  assert.ok(h.logs.records.some((r) => r.text === "poll claim lost to another poller, poll ended"));
});

void test("envelope sender: Return-Path, <> kept, else From, else null sender", () => {
  assert.equal(envelopeSender(Buffer.from("Return-Path: <a@x.test>\r\nFrom: b@y.test\r\n\r\n")), "a@x.test");
  assert.equal(envelopeSender(Buffer.from("Return-Path: <>\r\nFrom: b@y.test\r\n\r\n")), "");
  assert.equal(envelopeSender(Buffer.from("From: B <b@y.test>\r\n\r\n")), "b@y.test");
  assert.equal(envelopeSender(Buffer.from("Subject: none\r\n\r\n")), "");
});

void test("a message past the header limits is skipped and left on the server, the others fetched", async (t) => {
  const h = await harness(t);
  await h.remote.deliver(`Subject: folded\r\n${" y\r\n".repeat(1000)}\r\nbody\r\n`);
  await h.remote.deliver(`${"X-A: 1\r\n".repeat(30)}Subject: many\r\n\r\nbody\r\n`);
  await h.remote.deliver("Subject: fine\r\n\r\nbody\r\n");
  const e = await h.add({ keep: false });
  const header = { maxHeaderBytes: 2000, maxHeaderFields: 20 };
  assert.deepEqual(await h.poll(e, { header }), {
    kind: "ok",
    fetched: 1,
    deleted: 1,
    skipped: 2,
    more: false,
  });
  assert.deepEqual(
    h.submitted.map((s) => /Subject: (\w+)/.exec(s.message.toString())![1]),
    ["fine"],
  );
  assert.equal(await h.remoteFiles(), 2, "the refused ones stay on the server");
  assert.deepEqual(
    h.logs.records
      .filter((r) => r.text === "remote message header over the limit, left on the server")
      .map((r) => r.fields["reason"]),
    ["headerTooBig", "tooManyFields"],
  );
});

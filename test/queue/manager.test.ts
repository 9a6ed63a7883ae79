// The queue manager over a real spool, driven by a FakeClock and a scriptable fake Deliverer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, open, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { createQueueManager, type QueueManager } from "../../src/queue/manager.js";
import { createSpool } from "../../src/queue/spool.js";
import type { Deliverer, DeliveryJob, EnvelopeDraft, Route } from "../../src/queue/types.js";
import type { EnvelopeRecipient, Notify } from "../../src/queue/envelope.js";
import { bounced, deferred, delivered, type Outcome } from "../../src/proto/outcome.js";
import { reply } from "../../src/proto/reply.js";
import { settingsSchema, type Settings } from "../../src/config/settings.js";
import { noMetrics } from "../../src/log/metrics.js";
import { LEVELS } from "../../src/log/logger.js";
import type { Random } from "../../src/world/random.js";
import { FakeClock } from "../kit/clock.js";
import { waitFor } from "../kit/load.js";
import { memoryLogSink } from "../kit/log.js";

const OK = reply(250, "2.0.0", "Ok");
const TEMP = reply(451, "4.4.1", "Try later");
const NOUSER = reply(550, "5.1.1", "No such user");
const SEC = 1000;

/** Queue ids stay unique across managers; retry jitter is zero so times are exact. */
function testRandom(): Random {
  let n = 0;
  return { int: (max) => (max === 36 ** 4 ? n++ % max : 0), bytes: (k) => Buffer.alloc(k) };
}

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

interface Seen {
  job: DeliveryJob;
  body: string;
}

/** A Deliverer whose answers a test scripts; it records every job and the peak concurrency. */
class FakeDeliverer implements Deliverer {
  jobs: Seen[] = [];
  inFlight = 0;
  maxInFlight = 0;
  perRoute = new Map<string, number>();
  maxPerRoute = 0;
  /** DSNs (null sender) are delivered unless the script handles them. */
  script: (rcpt: EnvelopeRecipient, job: DeliveryJob) => Outcome = () => delivered(OK, "mx.test");
  gate: (() => Promise<void>) | null = null;

  route(rcpt: EnvelopeRecipient): Promise<Route> {
    const domain = rcpt.address.slice(rcpt.address.indexOf("@") + 1);
    return Promise.resolve({ key: `relay:${domain}`, kind: domain === "local.test" ? "local" : "remote" });
  }

  async deliver(job: DeliveryJob): Promise<Outcome[]> {
    this.inFlight++;
    const r = (this.perRoute.get(job.route.key) ?? 0) + 1;
    this.perRoute.set(job.route.key, r);
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.maxPerRoute = Math.max(this.maxPerRoute, r);
    try {
      const body = (await collect(job.body())).toString();
      this.jobs.push({ job, body });
      if (this.gate) await this.gate();
      return job.recipients.map(({ rcpt }) =>
        job.envelope.source === "dsn" ? delivered(OK, "mx.test") : this.script(rcpt, job),
      );
    } finally {
      this.inFlight--;
      this.perRoute.set(job.route.key, (this.perRoute.get(job.route.key) ?? 1) - 1);
    }
  }

  /** Jobs of original mail (not DSNs). */
  mail(): Seen[] {
    return this.jobs.filter((j) => j.job.envelope.source !== "dsn");
  }
  dsns(): Seen[] {
    return this.jobs.filter((j) => j.job.envelope.source === "dsn");
  }
}

interface Rig {
  q: QueueManager;
  d: FakeDeliverer;
  clock: FakeClock;
  dir: string;
  sink: ReturnType<typeof memoryLogSink>;
  /** The settings object the manager reads (managed settings change it in place). */
  settings: Settings;
  restart(d?: FakeDeliverer): Promise<QueueManager>;
}

async function rig(
  t: { after(fn: () => Promise<void>): void },
  queue: Record<string, unknown> = {},
  d = new FakeDeliverer(),
): Promise<Rig> {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-qm-"));
  const clock = new FakeClock();
  const sink = memoryLogSink();
  const settings = settingsSchema.parse({
    queue: { firstRetrySeconds: 60, maxRetrySeconds: 1800, ...queue },
  });
  const random = testRandom();
  const make = (del: FakeDeliverer): QueueManager =>
    createQueueManager({
      spool: createSpool(dir, sink.for("QUEUE")),
      deliverer: del,
      settings,
      clock,
      random,
      log: sink.for("QUEUE"),
      metrics: noMetrics,
      hostname: "mx.mailyard.test",
    });
  const r: Rig = {
    q: make(d),
    d,
    clock,
    dir,
    sink,
    settings,
    async restart(nd = new FakeDeliverer()) {
      await r.q.stop();
      r.d = nd;
      r.q = make(nd);
      await r.q.start();
      return r.q;
    },
  };
  await r.q.start();
  t.after(async () => {
    await r.q.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return r;
}

const draft = (to: string[], over: Partial<EnvelopeDraft> = {}, notify: Notify = null): EnvelopeDraft => ({
  returnPath: "sender@origin.test",
  recipients: to.map((address) => ({ address, original: null, notify, orcpt: null })),
  ret: null,
  envid: null,
  body: "7BIT",
  smtputf8: false,
  source: "smtp",
  authUser: null,
  client: null,
  arrival: 0,
  ...over,
});
const MSG = Buffer.from("From: sender@origin.test\r\nSubject: test\r\n\r\nHello\r\n");

async function send(
  r: Rig,
  to: string[],
  over: Partial<EnvelopeDraft> = {},
  notify: Notify = null,
): Promise<string> {
  const inc = await r.q.begin();
  assert.notEqual(inc, "full");
  if (inc === "full") throw new Error("full");
  await inc.write(MSG.subarray(0, 10));
  await inc.write(MSG.subarray(10));
  const env = await inc.commit(draft(to, { arrival: r.clock.now(), ...over }, notify));
  return env.id;
}

/** Advance the fake clock in steps, letting the queue settle after each. */
async function advance(r: Rig, ms: number, step = ms): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    r.clock.advance(Math.min(step, ms - done));
    await r.q.idle();
  }
}

const statusLines = (r: Rig) =>
  r.sink.records
    .filter((x) => x.text === "recipient status")
    .map((x) => `${String(x.fields.to)} ${String(x.fields.status)}`);

void test("delivered: one job per route, message removed, one log line per recipient", async (t) => {
  const r = await rig(t);
  const id = await send(r, ["a@far.test", "b@far.test", "c@other.test"]);
  await r.q.idle();
  assert.equal(r.q.size(), 0);
  assert.equal(r.d.jobs.length, 2);
  assert.deepEqual(r.d.jobs.map((j) => j.job.recipients.map((x) => x.rcpt.address)).sort(), [
    ["a@far.test", "b@far.test"],
    ["c@other.test"],
  ]);
  assert.equal(r.d.jobs[0]!.body, MSG.toString());
  assert.deepEqual(statusLines(r).sort(), ["a@far.test sent", "b@far.test sent", "c@other.test sent"]);
  const line = r.sink.records.find((x) => x.text === "recipient status")!;
  assert.equal(line.fields.id, id);
  assert.equal(line.fields.relay, "mx.test");
  assert.equal(line.fields.dsn, "2.0.0");
  assert.deepEqual(await readdir(join(r.dir, "active")), []);
});

void test("deferred: retried after 60 s, then 120 s, then delivered", async (t) => {
  const r = await rig(t);
  let n = 0;
  r.d.script = () => (++n < 3 ? deferred(TEMP, "mx.far.test") : delivered(OK, "mx.far.test"));
  const t0 = r.clock.now();
  const id = await send(r, ["a@far.test"]);
  await r.q.idle();
  assert.equal(r.d.jobs.length, 1);
  const s = r.q.show(id)!;
  assert.equal(s.recipients[0]!.nextAttempt, t0 + 60 * SEC);
  assert.equal(s.recipients[0]!.attempts, 1);
  assert.equal(s.recipients[0]!.lastReply, "451 4.4.1 Try later");
  await advance(r, 59 * SEC);
  assert.equal(r.d.jobs.length, 1);
  await advance(r, 1 * SEC);
  assert.equal(r.d.jobs.length, 2);
  assert.equal(r.q.show(id)!.recipients[0]!.nextAttempt, t0 + 60 * SEC + 120 * SEC);
  await advance(r, 119 * SEC);
  assert.equal(r.d.jobs.length, 2);
  await advance(r, 1 * SEC);
  assert.equal(r.d.jobs.length, 3);
  assert.equal(r.q.size(), 0);
  assert.deepEqual(statusLines(r), ["a@far.test deferred", "a@far.test deferred", "a@far.test sent"]);
});

void test("the retry schedule changed in the running settings counts from the next deferral", async (t) => {
  const r = await rig(t);
  r.d.script = () => deferred(TEMP, "mx.far.test");
  const first = await send(r, ["a@far.test"]);
  await r.q.idle();
  assert.equal(r.q.show(first)!.recipients[0]!.nextAttempt, r.clock.now() + 60 * SEC);
  // What a live managed setting does (src/server/managed-settings.ts): the leaf, in place.
  r.settings.queue.firstRetrySeconds = 5;
  r.settings.queue.maxLifetimeSeconds = 7;
  const second = await send(r, ["b@other.test"]);
  await r.q.idle();
  assert.equal(r.q.show(second)!.recipients[0]!.nextAttempt, r.clock.now() + 5 * SEC);
  await advance(r, 10 * SEC, SEC);
  assert.equal(r.q.show(second), null, "given up at the new maximum lifetime");
});

void test("bounced: failure DSN to the sender from the null sender, NOTIFY=NEVER", async (t) => {
  const r = await rig(t);
  r.d.script = () => bounced(NOUSER, "mx.far.test[192.0.2.1]:25");
  await send(r, ["gone@far.test"]);
  await r.q.idle();
  assert.equal(r.q.size(), 0);
  const [dsn, ...more] = r.d.dsns();
  assert.equal(more.length, 0);
  const env = dsn!.job.envelope;
  assert.equal(env.returnPath, "");
  assert.deepEqual(env.recipients, [
    { address: "sender@origin.test", original: null, notify: "NEVER", orcpt: null },
  ]);
  assert.match(dsn!.body, /Subject: Undelivered Mail Returned to Sender/);
  assert.match(
    dsn!.body,
    /Action: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; mx\.far\.test\r\nDiagnostic-Code: smtp; 550 5\.1\.1 No such user/,
  );
  // Small message without RET: returned whole.
  assert.match(
    dsn!.body,
    /Content-Type: message\/rfc822\r\n\r\nFrom: sender@origin\.test\r\nSubject: test\r\n\r\nHello\r\n/,
  );
  assert.ok(r.sink.records.some((x) => x.text === "sender notification" && x.fields.kind === "failure"));
});

void test("no failure DSN for NOTIFY=NEVER, NOTIFY without FAILURE, or the null sender", async (t) => {
  const r = await rig(t);
  r.d.script = () => bounced(NOUSER, "mx.far.test");
  await send(r, ["a@far.test"], {}, "NEVER");
  await send(r, ["b@far.test"], {}, ["DELAY"]);
  await send(r, ["c@far.test"], { returnPath: "" });
  await r.q.idle();
  assert.equal(r.q.size(), 0);
  assert.equal(r.d.mail().length, 3);
  assert.equal(r.d.dsns().length, 0);
  assert.deepEqual(statusLines(r).sort(), ["a@far.test bounced", "b@far.test bounced", "c@far.test bounced"]);
});

void test("NOTIFY=SUCCESS gets a success DSN; RET=HDRS returns headers only", async (t) => {
  const r = await rig(t);
  await send(r, ["ok@local.test"], {}, ["SUCCESS"]);
  await r.q.idle();
  const [dsn] = r.d.dsns();
  assert.match(dsn!.body, /Subject: Successful Mail Delivery Report/);
  assert.match(dsn!.body, /Action: delivered\r\nStatus: 2\.0\.0/);

  r.d.script = () => bounced(NOUSER, "mx.far.test");
  await send(r, ["x@far.test"], { ret: "HDRS" });
  await r.q.idle();
  const failure = r.d.dsns()[1]!;
  assert.match(
    failure.body,
    /Content-Type: text\/rfc822-headers\r\n\r\nFrom: sender@origin\.test\r\nSubject: test\r\n\r\n--/,
  );
  assert.doesNotMatch(failure.body, /Hello/);
});

void test("delay warnings: one per threshold, then give up at maxLifetime with a DSN", async (t) => {
  const r = await rig(t, {
    delayWarningSeconds: [600, 1200],
    maxLifetimeSeconds: 3600,
    maxRetrySeconds: 300,
  });
  r.d.script = () => deferred(TEMP, "mx.far.test");
  const t0 = r.clock.now();
  const id = await send(r, ["slow@far.test"]);
  await r.q.idle();
  await advance(r, 900 * SEC, 30 * SEC);
  assert.equal(r.d.dsns().length, 1);
  assert.match(r.d.dsns()[0]!.body, /Subject: Delayed Mail[^]*Action: delayed\r\nStatus: 4\.4\.1/);
  await advance(r, 1200 * SEC, 30 * SEC); // t0 + 2100 s
  assert.equal(r.d.dsns().length, 2);
  assert.equal(r.q.show(id)!.recipients[0]!.status, "pending");
  await advance(r, 1499 * SEC, 30 * SEC); // just before expiry
  assert.equal(r.q.size(), 1);
  assert.equal(r.d.dsns().length, 2);
  await advance(r, 2 * SEC);
  assert.equal(r.q.size(), 0);
  const last = r.d.mail().at(-1)!;
  assert.ok(r.clock.now() - t0 >= 3600 * SEC);
  assert.equal(r.d.mail().length > 5, true);
  assert.equal(last.job.envelope.id, id);
  const dsns = r.d.dsns();
  assert.equal(dsns.length, 3);
  assert.match(
    dsns[2]!.body,
    /Subject: Undelivered Mail[^]*Action: failed\r\nStatus: 5\.4\.7\r\n[^]*Diagnostic-Code: smtp; 451 4\.4\.1 Try later/,
  );
  assert.ok(statusLines(r).includes("slow@far.test expired"));
});

void test("NOTIFY=FAILURE alone gets no delay warning", async (t) => {
  const r = await rig(t, { delayWarningSeconds: [60], maxLifetimeSeconds: 3600 });
  r.d.script = () => deferred(TEMP, "mx.far.test");
  await send(r, ["slow@far.test"], {}, ["FAILURE"]);
  await advance(r, 600 * SEC, 30 * SEC);
  assert.ok(r.d.mail().length >= 3);
  assert.equal(r.d.dsns().length, 0);
});

void test("hold, release, retryNow, delete", async (t) => {
  const r = await rig(t);
  r.d.script = () => deferred(TEMP, "mx.far.test");
  const id = await send(r, ["a@far.test"]);
  await r.q.idle();
  assert.equal(await r.q.hold(id), true);
  assert.equal(r.q.show(id)!.state, "held");
  await advance(r, 3600 * SEC, 60 * SEC);
  assert.equal(r.d.mail().length, 1, "held messages are not tried");
  assert.equal(await r.q.release(id), true);
  await r.q.idle();
  assert.equal(r.d.mail().length, 2, "released and due: tried at once");
  assert.equal(await r.q.retryNow(id), true);
  await r.q.idle();
  assert.equal(r.d.mail().length, 3);
  assert.equal(await r.q.delete(id), true);
  assert.equal(r.q.size(), 0);
  assert.deepEqual(await readdir(join(r.dir, "active")), []);
  assert.equal(r.d.dsns().length, 0, "delete sends no report");
  assert.equal(await r.q.hold("NOSUCHID000000"), false);
  assert.equal(await r.q.delete(id), false);
});

void test("recipients bounced by jobs that end at different times get one failure DSN", async (t) => {
  // Two destinations (one slow): each bounces in its own job, the second later than the first.
  const d = new FakeDeliverer();
  let release = (): void => undefined;
  const slow = new Promise<void>((r) => (release = r));
  d.script = (rcpt) => bounced(NOUSER, rcpt.address.endsWith("@slow.test") ? "mx.slow.test" : "mx.far.test");
  d.gate = async () => {
    const last = d.jobs[d.jobs.length - 1]!.job;
    if (last.envelope.source !== "dsn" && last.route.key === "relay:slow.test") await slow;
  };
  // Registered before the rig's stop, so a failing test does not leave the slow job hanging.
  t.after(() => Promise.resolve(release()));
  const r = await rig(t, {}, d);
  await send(r, ["a@far.test", "b@slow.test"]);
  await waitFor("a bounced", () => statusLines(r).includes("a@far.test bounced"));
  // An absence: before the fix the report for a alone was enqueued within milliseconds here.
  await assert.rejects(
    waitFor("a report", () => r.d.dsns().length > 0, 300),
    /timed out/,
    "no report while another recipient of the message is still being tried",
  );
  release();
  await r.q.idle();
  assert.equal(r.q.size(), 0);
  const dsns = r.d.dsns();
  assert.equal(dsns.length, 1);
  assert.match(dsns[0]!.body, /Final-Recipient: rfc822; a@far\.test/);
  assert.match(dsns[0]!.body, /Final-Recipient: rfc822; b@slow\.test/);
});

void test("reject bounces every pending recipient with 550 5.0.0 and a DSN", async (t) => {
  const r = await rig(t);
  r.d.script = (rcpt) =>
    rcpt.address.startsWith("ok") ? delivered(OK, "mx.far.test") : deferred(TEMP, "mx.far.test");
  const id = await send(r, ["ok@far.test", "wait@far.test", "wait2@far.test"]);
  await r.q.idle();
  assert.equal(await r.q.reject(id, "Spam\r\nnot wanted"), true);
  await r.q.idle();
  assert.equal(r.q.size(), 0);
  const [dsn] = r.d.dsns();
  assert.match(
    dsn!.body,
    /Final-Recipient: rfc822; wait@far\.test\r\nAction: failed\r\nStatus: 5\.0\.0\r\nDiagnostic-Code: smtp; 550 5\.0\.0 Spam not wanted/,
  );
  assert.doesNotMatch(dsn!.body, /Final-Recipient: rfc822; ok@far\.test/);
});

void test("a restart resumes the queue: persisted attempts, next attempt kept", async (t) => {
  const r = await rig(t);
  r.d.script = () => deferred(TEMP, "mx.far.test");
  const t0 = r.clock.now();
  const id = await send(r, ["a@far.test", "b@local.test"]);
  await r.q.idle();
  const d2 = new FakeDeliverer();
  const q2 = await r.restart(d2);
  assert.equal(q2.size(), 1);
  const s = q2.show(id)!;
  assert.deepEqual(
    s.recipients.map((x) => x.attempts),
    [1, 1],
  );
  assert.equal(s.recipients[0]!.nextAttempt, t0 + 60 * SEC);
  await q2.idle();
  assert.equal(d2.jobs.length, 0, "not due yet");
  await advance(r, 60 * SEC);
  assert.equal(d2.mail().length, 2);
  assert.equal(q2.size(), 0);
});

void test("a restart sends reports that were not yet enqueued", async (t) => {
  const r = await rig(t);
  await r.q.stop();
  // Fake a crash after a bounce was recorded but before its DSN was enqueued.
  const spool = createSpool(r.dir, r.sink.for("QUEUE"));
  await spool.open();
  const id = "0000000000ZZZ1";
  const w = await spool.begin(id);
  await w.write(MSG);
  await w.commit({ ...draft(["a@far.test", "b@far.test"]), id, size: MSG.length });
  await spool.saveState(id, "active", [
    {
      status: "bounced",
      attempts: 1,
      nextAttempt: 0,
      lastReply: { code: 550, enhanced: "5.1.1", text: "No such user" },
      lastRelay: "mx.far.test",
      warningsSent: 0,
      reported: false,
    },
    {
      status: "delivered",
      attempts: 1,
      nextAttempt: 0,
      lastReply: null,
      lastRelay: "mx.far.test",
      warningsSent: 0,
      reported: true,
    },
  ]);
  const q2 = await r.restart();
  await q2.idle();
  assert.equal(r.d.mail().length, 0, "final recipients are not tried again");
  assert.equal(r.d.dsns().length, 1);
  assert.match(r.d.dsns()[0]!.body, /Final-Recipient: rfc822; a@far\.test/);
  assert.equal(q2.show(id), null);
  assert.deepEqual(await readdir(join(r.dir, "active")), []);
});

void test("queue full: begin answers full at maxMessages", async (t) => {
  const r = await rig(t, { maxMessages: 2 });
  let release = (): void => undefined;
  const gate = new Promise<void>((res) => (release = res));
  r.d.gate = () => gate;
  await send(r, ["a@far.test"]);
  await send(r, ["b@far.test"]);
  assert.equal(await r.q.begin(), "full");
  release();
  await r.q.idle();
  assert.equal(r.q.size(), 0);
  assert.notEqual(await r.q.begin(), "full");
});

void test("concurrency limits: total and per destination", async (t) => {
  const r = await rig(t, { maxConcurrency: 3, maxPerDestination: 2 });
  let release = (): void => undefined;
  const gate = new Promise<void>((res) => (release = res));
  r.d.gate = () => gate;
  for (let i = 0; i < 12; i++) await send(r, [`u${i}@d${i % 3}.test`]);
  assert.equal(r.d.inFlight, 3);
  release();
  await r.q.idle();
  assert.equal(r.q.size(), 0);
  assert.equal(r.d.mail().length, 12);
  assert.equal(r.d.maxInFlight, 3);
  assert.ok(r.d.maxPerRoute <= 2);
});

void test("per-destination limit holds with one busy destination", async (t) => {
  const r = await rig(t, { maxConcurrency: 10, maxPerDestination: 2 });
  let release = (): void => undefined;
  const gate = new Promise<void>((res) => (release = res));
  r.d.gate = () => gate;
  for (let i = 0; i < 8; i++) await send(r, [`u${i}@one.test`]);
  assert.equal(r.d.inFlight, 2);
  release();
  await r.q.idle();
  assert.equal(r.d.mail().length, 8);
  assert.equal(r.d.maxPerRoute, 2);
});

void test("recipients are split at maxRecipientsPerTransaction", async (t) => {
  const r = await rig(t, { maxRecipientsPerTransaction: 2 });
  await send(r, ["a@x.test", "b@x.test", "c@x.test", "d@x.test", "e@x.test"]);
  await r.q.idle();
  assert.deepEqual(
    r.d
      .mail()
      .map((j) => j.job.recipients.length)
      .sort(),
    [1, 2, 2],
  );
});

void test("a destination-scope deferral pushes back other waiting messages without trying them", async (t) => {
  const r = await rig(t, { maxPerDestination: 1 });
  let release = (): void => undefined;
  const gate = new Promise<void>((res) => (release = res));
  r.d.gate = () => gate;
  r.d.script = () => deferred(reply(421, "4.4.2", "Connection refused"), "mx.dead.test", "destination");
  const t0 = r.clock.now();
  const first = await send(r, ["a@dead.test"]);
  const second = await send(r, ["b@dead.test"]);
  const third = await send(r, ["c@dead.test"]);
  release();
  await r.q.idle();
  assert.equal(r.d.mail().length, 1, "only one attempt at the dead destination");
  assert.equal(r.q.show(first)!.recipients[0]!.attempts, 1);
  for (const id of [second, third]) {
    const s = r.q.show(id)!.recipients[0]!;
    assert.equal(s.attempts, 0);
    assert.equal(s.nextAttempt, t0 + 60 * SEC);
    assert.equal(s.lastReply, "421 4.4.2 Connection refused");
  }
  // New mail for the dead destination waits too.
  await send(r, ["d@dead.test"]);
  await r.q.idle();
  assert.equal(r.d.mail().length, 1);
  // After the backoff one probe goes first; when it succeeds the rest follow.
  r.d.script = () => delivered(OK, "mx.dead.test");
  await advance(r, 60 * SEC);
  assert.equal(r.q.size(), 0);
  assert.equal(r.d.mail().length, 5);
});

void test("a flipped byte in a queued message is caught before delivery: quarantined, never delivered", async (t) => {
  const r = await rig(t);
  r.d.script = () => deferred(TEMP, "mx.far.test", "recipient");
  const bad = await send(r, ["a@far.test"]);
  const old = await send(r, ["b@far.test"]);
  const good = await send(r, ["c@far.test"]);
  await r.q.idle();
  assert.equal(r.d.mail().length, 3, "first attempts, from memory");

  const flip = async (id: string, at: number, mask: number): Promise<void> => {
    const h = await open(join(r.dir, "active", id), "r+");
    try {
      const b = Buffer.alloc(1);
      await h.read(b, 0, 1, at);
      b[0] = b[0]! ^ mask;
      await h.write(b, 0, 1, at);
    } finally {
      await h.close();
    }
  };
  await flip(bad, 30, 0x01); // one bit of the body
  // A file written before checksums were stored: its trailer flags are zero.
  const { size } = await stat(join(r.dir, "active", old));
  await flip(old, size - 32 + 28, 0x01);

  const q2 = await r.restart();
  await advance(r, 60 * SEC);
  assert.deepEqual(
    r.d
      .mail()
      .map((j) => j.job.envelope.id)
      .sort(),
    [old, good].sort(),
  );
  assert.ok(!r.d.jobs.some((j) => j.job.envelope.id === bad), "the corrupted bytes were never handed on");
  assert.equal(q2.show(bad), null, "out of the queue");
  const aside = await readdir(join(r.dir, "corrupt"));
  assert.ok(aside.includes(bad), `quarantined in corrupt/: ${aside.join(",")}`);
  assert.ok(aside.includes(`${bad}.state.json`), "with its recipient state");
  assert.ok(!(await readdir(join(r.dir, "active"))).includes(bad));
  const logged = r.sink.records.find((x) => x.text === "corrupted queue file quarantined");
  assert.equal(logged?.fields.id, bad);
  assert.equal(logged?.level, LEVELS.problem);
});

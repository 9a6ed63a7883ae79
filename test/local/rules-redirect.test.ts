// A rule's redirected copy refused when it is submitted, through the mailbox channel with a real
// SQLite directory and rule store and a real Maildir: a 5xx (a frontend's milter refusing the
// copy as spam) bounces the recipient with that reply when the copy was the message's only way
// on; a 4xx defers it with nothing stored; a kept copy or another redirect that was taken makes
// it delivered with the refusal logged (src/delivery/rules-hook.ts, docs/RULES.md).
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { FakeClock } from "../kit/clock.js";
import { memoryLogSink } from "../kit/log.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import { createMaildirStore } from "../../src/store/maildir.js";
import { createLocalChannel } from "../../src/delivery/local.js";
import { settingsSchema } from "../../src/config/settings.js";
import { openSqliteRuleStore } from "../../src/rules/sqlite-store.js";
import { parseRules } from "../../src/rules/seed/text.js";
import { reply, type Reply } from "../../src/proto/reply.js";
import type { SubmitResult } from "../../src/queue/submit.js";
import type { DeliveryJob } from "../../src/queue/types.js";
import type { Outcome } from "../../src/proto/outcome.js";

const MESSAGE = "From: <bob@remote.test>\r\nTo: <alice@example.test>\r\nSubject: hi\r\n\r\nHello Alice.\r\n";
const SPAM = reply(554, "5.7.1", "spam");
const BUSY = reply(451, "4.7.1", "milter unavailable");

interface Rig {
  root: string;
  logs: ReturnType<typeof memoryLogSink>;
  /** Targets of every submit call, in order. */
  submitted: string[];
  sieve(script: string): Promise<void>;
  rules(text: string): Promise<void>;
  deliver(): Promise<Outcome>;
}

/** `refuse` maps a redirect target to the reply its submission gets; others are queued. */
async function rig(t: TestContext, refuse: Record<string, Reply>): Promise<Rig> {
  const tmp = await mkdtemp(join(tmpdir(), "mailyard-rules-redirect-"));
  const clock = new FakeClock();
  const dir = openSqliteDirectory(join(tmp, "mailyard.db"), clock);
  const ruleStore = openSqliteRuleStore(join(tmp, "mailyard.db"), () => clock.now());
  t.after(async () => {
    await ruleStore.close();
    await dir.close();
    await rm(tmp, { recursive: true, force: true });
  });
  await dir.addDomain("example.test");
  await dir.addAccount("alice@example.test", "pw");
  const logs = memoryLogSink();
  const root = join(tmp, "mail");
  const submitted: string[] = [];
  let queued = 0;
  const submit = (draft: { recipients: readonly { address: string }[] }): Promise<SubmitResult> => {
    const to = draft.recipients.map((x) => x.address).join(",");
    submitted.push(to);
    const refused = refuse[to];
    return Promise.resolve(
      refused ? { ok: false, reply: refused } : { ok: true, id: `R${++queued}`, node: "n1", remote: false },
    );
  };
  const channel = createLocalChannel({
    directory: dir,
    store: createMaildirStore(root, logs.for("LOCAL")),
    settings: settingsSchema.parse({}),
    clock,
    log: logs.for("LOCAL"),
    hostname: "mx.example.test",
    rules: { store: ruleStore, nodeId: "node1", submit, log: logs.for("RULES") },
  });
  const bytes = Buffer.from(MESSAGE);
  return {
    root,
    logs,
    submitted,
    sieve: (script) => ruleStore.setSieve("alice@example.test", script),
    rules: (text) => ruleStore.setRules({ kind: "account", address: "alice@example.test" }, parseRules(text)),
    async deliver() {
      const rcpt = { address: "alice@example.test", original: null, notify: null, orcpt: null };
      const job: DeliveryJob = {
        envelope: {
          id: "Q1",
          returnPath: "bob@remote.test",
          recipients: [rcpt],
          ret: null,
          envid: null,
          body: "8BITMIME",
          smtputf8: false,
          source: "smtp",
          authUser: null,
          client: null,
          arrival: clock.now(),
          size: bytes.length,
        },
        recipients: [{ index: 0, rcpt }],
        route: { key: "local:alice@example.test", kind: "local" },
        body: () => Readable.from([bytes]),
      };
      const out = await channel.deliver(job);
      assert.equal(out.length, 1);
      return out[0]!;
    },
  };
}

async function inboxCount(root: string): Promise<number> {
  return (await readdir(join(root, "example.test", "alice", "new")).catch(() => [])).length;
}

const refusedLines = (r: Rig) =>
  r.logs.records
    .filter((x) => x.tag === "RULES" && x.text === "rule redirect refused")
    .map((x) => `${String(x.fields.targets)}: ${String(x.fields.reply)}`);

void test("a redirect refused with 554 5.7.1 bounces the recipient with that reply; nothing stored", async (t) => {
  const r = await rig(t, { "carol@other.test": SPAM });
  await r.sieve('redirect "carol@other.test";');
  const out = await r.deliver();
  assert.equal(out.kind, "bounced");
  assert.equal(out.reply.code, 554);
  assert.equal(out.reply.enhanced, "5.7.1");
  assert.equal(out.reply.text, "redirected copy refused: 554 5.7.1 spam");
  assert.equal(await inboxCount(r.root), 0);
  assert.deepEqual(r.submitted, ["carol@other.test"]);
  const line = r.logs.records.find((x) => x.tag === "RULES" && x.text === "rule redirect refused");
  assert.equal(line?.level, 3); // problem
  assert.equal(line?.fields.reply, "554 5.7.1 spam");
  assert.equal(line?.fields.to, "alice@example.test");
  // the recipient's state line is a bounce with the refusal in it
  const state = r.logs.records.find((x) => x.tag === "LOCAL" && x.text === "delivery bounced");
  assert.equal(state?.fields.dsn, "5.7.1");
  assert.equal(state?.fields.reply, "554 redirected copy refused: 554 5.7.1 spam");
});

void test("a redirect refused with a 4xx still defers the recipient, nothing stored", async (t) => {
  const r = await rig(t, { "carol@other.test": BUSY });
  await r.sieve('redirect "carol@other.test";');
  const out = await r.deliver();
  assert.equal(out.kind, "deferred");
  assert.equal(out.reply.code, 451);
  assert.equal(await inboxCount(r.root), 0);
  const line = r.logs.records.find((x) => x.tag === "RULES" && x.text === "rule redirect not submitted");
  assert.equal(line?.fields.reply, "451 4.7.1 milter unavailable");
});

void test("a seed Forward to refused with a 5xx bounces too", async (t) => {
  const r = await rig(t, { "carol@other.test": SPAM });
  await r.rules('(1,fwd,(),(("Forward to","carol@other.test")))');
  const out = await r.deliver();
  assert.equal(out.kind, "bounced");
  assert.equal(out.reply.text, "redirected copy refused: 554 5.7.1 spam");
  assert.equal(await inboxCount(r.root), 0);
});

void test("redirect :copy (the message is also kept): stored in INBOX, the refusal logged", async (t) => {
  const r = await rig(t, { "carol@other.test": SPAM });
  await r.sieve('require "copy";\r\nredirect :copy "carol@other.test";');
  const out = await r.deliver();
  assert.equal(out.kind, "delivered");
  assert.equal(await inboxCount(r.root), 1);
  assert.deepEqual(refusedLines(r), ["carol@other.test: 554 5.7.1 spam"]);
});

void test("one of two redirects taken, the other refused (either order): delivered, both tried", async (t) => {
  for (const [first, second] of [
    ["carol@other.test", "dave@other.test"],
    ["dave@other.test", "carol@other.test"],
  ] as const) {
    const r = await rig(t, { "carol@other.test": SPAM });
    await r.sieve(`redirect "${first}";\r\nredirect "${second}";`);
    const out = await r.deliver();
    assert.equal(out.kind, "delivered", `${first} then ${second}`);
    assert.deepEqual(r.submitted, [first, second]);
    assert.equal(await inboxCount(r.root), 0);
    assert.deepEqual(refusedLines(r), ["carol@other.test: 554 5.7.1 spam"]);
  }
});

void test("every redirect refused with a 5xx: bounced with the first refusal, each tried once", async (t) => {
  const r = await rig(t, {
    "carol@other.test": SPAM,
    "dave@other.test": reply(550, "5.1.1", "no such user"),
  });
  await r.sieve('redirect "carol@other.test";\r\nredirect "dave@other.test";');
  const out = await r.deliver();
  assert.equal(out.kind, "bounced");
  assert.equal(out.reply.text, "redirected copy refused: 554 5.7.1 spam");
  assert.deepEqual(r.submitted, ["carol@other.test", "dave@other.test"]);
  assert.equal(refusedLines(r).length, 2);
});

void test("a 5xx and then a 4xx: deferred (the retry may still pass the message on)", async (t) => {
  const r = await rig(t, { "carol@other.test": SPAM, "dave@other.test": BUSY });
  await r.sieve('redirect "carol@other.test";\r\nredirect "dave@other.test";');
  const out = await r.deliver();
  assert.equal(out.kind, "deferred");
  assert.equal(await inboxCount(r.root), 0);
});

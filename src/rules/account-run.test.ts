// The auto-replies account rules generate (Sieve vacation, the seed's Reply with), read back by
// mailparser: a Japanese subject (ISO-2022-JP or UTF-8 encoded words) comes back as the
// expected "Auto: …" / "Re: …" / :subject text, the header is pure ASCII (encoded words, no
// SMTPUTF8 needed), and the reply carries Date, Message-ID, In-Reply-To, References,
// Auto-Submitted and a text part with its charset and transfer encoding.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { simpleParser, type ParsedMail } from "mailparser";
import { decideForAccount, type Generated } from "./account-run.js";
import { decodeWords, parseHeader } from "./message.js";
import { openSqliteRuleStore } from "./sqlite-store.js";
import { parseRules } from "./seed/text.js";
import type { RuleStore } from "./store.js";
import { silentLog } from "../../test/kit/log.js";
import { NOW, view } from "../../test/kit/message-view.js";

const ALICE = "alice@example.test";
// 日本語の件名 in ISO-2022-JP, B-encoded, as Japanese mailers send it
const SUBJECT_JIS = "=?ISO-2022-JP?B?GyRCRnxLXDhsJE43b0w+GyhC?=";
const SUBJECT_UTF8 = "=?UTF-8?B?5pel5pys6Kqe44Gu5Lu25ZCN?=";
const REASON = "ただいま不在です。\n12月7日に戻ります。";

async function withStore(t: { after: (fn: () => Promise<void>) => void }): Promise<RuleStore> {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-replies-"));
  const store = openSqliteRuleStore(join(dir, "mailyard.db"), () => NOW);
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return store;
}

const original = (subject: string) =>
  view(
    [
      "From: Tanaka <tanaka@remote.test>",
      `To: ${ALICE}`,
      `Subject: ${subject}`,
      "Message-ID: <orig.1@remote.test>",
      "References: <older.0@remote.test>",
    ],
    "Hello\r\n",
    { envelopeFrom: "tanaka@remote.test" },
  );

async function replies(store: RuleStore, subject: string): Promise<Generated[]> {
  const d = await decideForAccount(store, silentLog("RULES"), ALICE, "example.test", original(subject));
  return d.generated.filter((g) => g.kind === "vacation" || g.kind === "reply");
}

const headerOf = (m: Buffer): string => m.subarray(0, m.indexOf("\r\n\r\n")).toString("latin1");

function assertWellFormed(g: Generated, parsed: ParsedMail): void {
  // eslint-disable-next-line no-control-regex
  assert.match(headerOf(g.message), /^[\u0000-\u007f]*$/, "the header is pure ASCII");
  // eslint-disable-next-line no-control-regex
  assert.match(g.message.toString("latin1"), /^[\u0000-\u007f]*$/, "so is the body: 7bit");
  assert.equal(g.returnPath, "");
  assert.deepEqual(g.to, ["tanaka@remote.test"]);
  assert.equal(parsed.headers.get("auto-submitted"), "auto-replied");
  assert.equal(parsed.date?.getTime(), NOW);
  assert.match(parsed.messageId ?? "", /^<[0-9a-f]{32}\.auto@example\.test>$/);
  assert.equal(parsed.inReplyTo, "<orig.1@remote.test>");
  assert.deepEqual(parsed.references, ["<older.0@remote.test>", "<orig.1@remote.test>"]);
  assert.equal(parsed.text?.replace(/\r\n/g, "\n").trimEnd(), REASON);
  assert.match(headerOf(g.message), /^Content-Type: text\/plain; charset=utf-8$/im);
  assert.match(headerOf(g.message), /^Content-Transfer-Encoding: (base64|quoted-printable)$/im);
}

for (const [name, subject] of [
  ["ISO-2022-JP", SUBJECT_JIS],
  ["UTF-8", SUBJECT_UTF8],
] as const) {
  test(`a vacation reply to a ${name} Japanese subject is "Auto: 日本語の件名", in encoded words`, async (t) => {
    const store = await withStore(t);
    await store.setSieve(ALICE, `require "vacation"; vacation "${REASON}";`);
    const [g] = await replies(store, subject);
    assert.ok(g, "a reply was made");
    const parsed = await simpleParser(g.message);
    assert.equal(parsed.subject, "Auto: 日本語の件名");
    assertWellFormed(g, parsed);
  });

  test(`a seed Reply with to a ${name} Japanese subject is "Re: 日本語の件名"`, async (t) => {
    const store = await withStore(t);
    await store.setRules(
      { kind: "account", address: ALICE },
      parseRules(`(1,away,(),(("Reply with","${REASON.replace("\n", "\\e")}")))`),
    );
    const [g] = await replies(store, `Re: ${subject}`);
    assert.ok(g, "a reply was made");
    const parsed = await simpleParser(g.message);
    assert.equal(parsed.subject, "Re: 日本語の件名");
    assertWellFormed(g, parsed);
  });
}

test("vacation :subject and :from in Japanese are encoded words too", async (t) => {
  const store = await withStore(t);
  await store.setSieve(
    ALICE,
    `require "vacation"; vacation :subject "不在のお知らせ" :from "有子 <${ALICE}>" "${REASON}";`,
  );
  const [g] = await replies(store, "hello");
  assert.ok(g);
  const parsed = await simpleParser(g.message);
  assert.equal(parsed.subject, "不在のお知らせ");
  assert.deepEqual(parsed.from?.value, [{ name: "有子", address: ALICE }]);
  assertWellFormed(g, parsed);
});

test("vacation :mime sends the reason's own MIME entity under the generated header", async (t) => {
  const store = await withStore(t);
  const entity = [
    "Content-Type: text/html; charset=utf-8",
    "Content-Transfer-Encoding: base64",
    "",
    Buffer.from("<p>不在です</p>").toString("base64"),
  ].join("\r\n");
  await store.setSieve(ALICE, `require "vacation"; vacation :mime "${entity}";`);
  const [g] = await replies(store, SUBJECT_JIS);
  assert.ok(g);
  const head = headerOf(g.message);
  assert.equal(head.match(/^Content-Type:/gim)?.length, 1, "one Content-Type: the entity's");
  const parsed = await simpleParser(g.message);
  assert.equal(parsed.html, "<p>不在です</p>");
  assert.equal(parsed.subject, "Auto: 日本語の件名");
  assert.equal(parsed.headers.get("auto-submitted"), "auto-replied");
});

test("header edits in Japanese (Tag Subject, Add Header, addheader) are written as encoded words", async (t) => {
  const store = await withStore(t);
  await store.setRules(
    { kind: "account", address: ALICE },
    parseRules('(1,tag,(),(("Tag Subject","[迷惑]"),("Add Header","X-Note: 確認済み")))'),
  );
  await store.setSieve(ALICE, 'require "editheader"; addheader "X-Sieve" "振り分け済み";');
  const d = await decideForAccount(store, silentLog("RULES"), ALICE, "example.test", original(SUBJECT_JIS));
  assert.ok(d.message, "the header was edited");
  // eslint-disable-next-line no-control-regex
  assert.match(headerOf(d.message), /^[\u0000-\u007f]*$/, "the edited header is pure ASCII");
  const parsed = await simpleParser(d.message);
  assert.equal(parsed.subject, "[迷惑] 日本語の件名");
  // mailparser leaves fields it does not know undecoded
  const field = (name: string): string => {
    const v = parsed.headers.get(name);
    return typeof v === "string" ? decodeWords(v) : "";
  };
  assert.equal(field("x-note"), "確認済み");
  assert.equal(field("x-sieve"), "振り分け済み");
});

test("a reply from an account in an internationalised domain keeps an ASCII header (A-labels)", async (t) => {
  const store = await withStore(t);
  const anna = "anna@bücher.test";
  await store.setSieve(anna, 'require "vacation"; vacation "Bin im Urlaub.";');
  const v = view([`To: ${anna}`, "From: tanaka@remote.test", `Subject: ${SUBJECT_UTF8}`], "Hi\r\n", {
    envelopeFrom: "tanaka@remote.test",
    recipients: [anna],
    recipient: anna,
  });
  const d = await decideForAccount(store, silentLog("RULES"), anna, "bücher.test", v);
  const g = d.generated.find((x) => x.kind === "vacation");
  assert.ok(g);
  // eslint-disable-next-line no-control-regex
  assert.match(headerOf(g.message), /^[\u0000-\u007f]*$/);
  const parsed = await simpleParser(g.message);
  assert.match(parsed.messageId ?? "", /\.auto@xn--bcher-kva\.test>$/);
  assert.equal(parsed.subject, "Auto: 日本語の件名");
});

test("a header edit leaves the other fields' bytes as received (an 8-bit Latin-1 value is not rewritten)", async (t) => {
  const store = await withStore(t);
  await store.setRules(
    { kind: "account", address: ALICE },
    parseRules('(1,tag,(),(("Add Header","X-Seen: yes")))'),
  );
  const raw = Buffer.concat([
    Buffer.from(`From: tanaka@remote.test\r\nTo: ${ALICE}\r\nX-Old: caf`, "latin1"),
    Buffer.from([0xe9]),
    Buffer.from("\r\nX-Folded: one\r\n two\r\nSubject: hi\r\n\r\nbody\r\n", "latin1"),
  ]);
  const v = { ...original("hi"), raw, ...parseHeader(raw), size: raw.length };
  const d = await decideForAccount(store, silentLog("RULES"), ALICE, "example.test", v);
  assert.ok(d.message);
  assert.deepEqual(d.message, Buffer.concat([Buffer.from("X-Seen: yes\r\n"), raw]));
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { parseMailbox, splitPath } from "./address.js";
import { REPLIES } from "./reply.js";

const mailbox = (arg: string, keyword: "FROM" | "TO" = "FROM", utf8 = false) => {
  const s = splitPath(arg, keyword);
  if (!s.ok) return s;
  return parseMailbox(s.path, { role: keyword === "FROM" ? "sender" : "recipient", utf8 });
};

test("splitPath separates the path from the parameters", () => {
  assert.deepEqual(splitPath("FROM:<a@b.test> SIZE=10 BODY=8BITMIME", "FROM"), {
    ok: true,
    path: "a@b.test",
    params: "SIZE=10 BODY=8BITMIME",
  });
  assert.deepEqual(splitPath("from: <a@b.test>", "FROM"), { ok: true, path: "a@b.test", params: "" });
  assert.deepEqual(splitPath('TO:<"a>b"@c.test>', "TO"), { ok: true, path: '"a>b"@c.test', params: "" });
  assert.equal(splitPath("FROM:a@b.test", "FROM").ok, false);
  assert.equal(splitPath("FROM:<a@b.test", "FROM").ok, false);
  assert.equal(splitPath("FROM:<a@b.test>x", "FROM").ok, false);
  assert.equal(splitPath("TO:<a@b.test>", "FROM").ok, false);
});

test("valid mailboxes", () => {
  for (const a of [
    "a@b.test",
    "first.last+tag@sub.example.test",
    "x!#$%&'*+-/=?^_`{|}~@b.test",
    '"john doe"@b.test',
    '"a\\"b"@b.test',
    "a@[192.0.2.1]",
    "a@[IPv6:2001:db8::1]",
  ]) {
    assert.deepEqual(mailbox(`FROM:<${a}>`), { ok: true, address: a }, a);
  }
});

test("null path for MAIL only; Postmaster for RCPT", () => {
  assert.deepEqual(mailbox("FROM:<>"), { ok: true, address: "" });
  assert.deepEqual(mailbox("TO:<>", "TO"), { ok: false, reply: REPLIES.badRecipientSyntax });
  assert.deepEqual(mailbox("TO:<Postmaster>", "TO"), { ok: true, address: "Postmaster" });
  assert.equal(mailbox("FROM:<postmaster>").ok, false);
});

test("source routes are accepted and stripped", () => {
  assert.deepEqual(mailbox("TO:<@a.test,@b.test:user@d.test>", "TO"), { ok: true, address: "user@d.test" });
  assert.equal(mailbox("TO:<@bad_host:user@d.test>", "TO").ok, false);
});

test("bad syntax is refused with the role's reply", () => {
  for (const a of [
    "a",
    "@b.test",
    "a@",
    "a..b@c.test",
    ".a@c.test",
    "a.@c.test",
    "a b@c.test",
    "a@-b.test",
    "a@b..test",
    "a@[300.1.1.1]",
    "a@[IPv6:zz]",
    "a@b_c.test",
  ]) {
    assert.deepEqual(mailbox(`FROM:<${a}>`), { ok: false, reply: REPLIES.badSenderSyntax }, a);
    assert.deepEqual(mailbox(`TO:<${a}>`, "TO"), { ok: false, reply: REPLIES.badRecipientSyntax }, a);
  }
});

test("length limits: local part 64, domain 255, path 256", () => {
  assert.equal(mailbox(`FROM:<${"a".repeat(64)}@b.test>`).ok, true);
  assert.equal(mailbox(`FROM:<${"a".repeat(65)}@b.test>`).ok, false);
  const label = "d".repeat(63);
  const domain = `${label}.${label}.${label}.${"d".repeat(59)}`; // 251 octets: <a@...> is 255
  assert.equal(mailbox(`FROM:<a@${domain}>`).ok, true);
  assert.equal(mailbox(`FROM:<ab@${domain}>`).ok, true, "256 with the brackets");
  assert.equal(mailbox(`FROM:<abc@${domain}>`).ok, false, "257 with the brackets");
  assert.equal(mailbox(`FROM:<a@${"d".repeat(64)}.test>`).ok, false, "label over 63");
  assert.equal(mailbox(`FROM:<${"a".repeat(60)}@${domain}>`).ok, false, "path over 256");
});

test("non-ASCII needs SMTPUTF8", () => {
  assert.deepEqual(mailbox("FROM:<jöran@b.test>"), { ok: false, reply: REPLIES.utf8NotEnabled });
  assert.deepEqual(mailbox("FROM:<jöran@b.test>", "FROM", true), { ok: true, address: "jöran@b.test" });
  // An internationalised domain is kept as A-labels (proto/idna.ts); the local part as sent.
  assert.deepEqual(mailbox("TO:<用户@例子.test>", "TO", true), {
    ok: true,
    address: "用户@xn--fsqu00a.test",
  });
  assert.deepEqual(mailbox("TO:<a@例子.test>", "TO"), { ok: false, reply: REPLIES.utf8NotEnabled });
  // The limits are in octets: 22 three-byte characters are 66 octets.
  assert.equal(mailbox(`FROM:<${"用".repeat(22)}@b.test>`, "FROM", true).ok, false);
});

test("U-label domains (SMTPUTF8) come out as A-labels; A-labels pass as sent; invalid IDNs are refused", () => {
  assert.deepEqual(mailbox("TO:<user@bücher.test>", "TO", true), {
    ok: true,
    address: "user@xn--bcher-kva.test",
  });
  assert.deepEqual(mailbox("TO:<user@BÜCHER.Test>", "TO", true), {
    ok: true,
    address: "user@xn--bcher-kva.test",
  });
  assert.deepEqual(mailbox("TO:<user@xn--bcher-kva.test>", "TO"), {
    ok: true,
    address: "user@xn--bcher-kva.test",
  });
  assert.deepEqual(mailbox("FROM:<a@mx.bücher.test>", "FROM", true), {
    ok: true,
    address: "a@mx.xn--bcher-kva.test",
  });
  assert.deepEqual(mailbox("TO:<user@bücher.test>", "TO"), { ok: false, reply: REPLIES.utf8NotEnabled });
  // A U-label ending in a hyphen (RFC 5891 §4.2.3.1), a ZERO WIDTH JOINER out of context (RFC
  // 5892 CONTEXTJ) and an "xn--" label that is not Punycode.
  for (const domain of ["bü-.test", "a\u200db.test", "xn--zz.test"]) {
    assert.deepEqual(
      mailbox(`TO:<user@${domain}>`, "TO", true),
      { ok: false, reply: REPLIES.badRecipientSyntax },
      domain,
    );
  }
});

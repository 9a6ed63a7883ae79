import { test } from "node:test";
import assert from "node:assert/strict";
import { bounced, deferred, delivered } from "../../proto/outcome.js";
import { REPLIES, reply } from "../../proto/reply.js";
import { recipientReply } from "./recipient-reply.js";

test("the outcome's reply goes out with the recipient named", () => {
  assert.deepEqual(recipientReply("a@b.test", delivered(REPLIES.deliveredMailbox, "mailbox")), {
    code: 250,
    enhanced: "2.0.0",
    text: "<a@b.test> Delivered",
  });
  assert.deepEqual(recipientReply("a@b.test", deferred(REPLIES.overQuotaTemp, "mailbox")), {
    code: 452,
    enhanced: "4.2.2",
    text: "<a@b.test> Mailbox full",
  });
  assert.deepEqual(recipientReply("a@b.test", bounced(REPLIES.unknownUser, "mailbox")), {
    code: 550,
    enhanced: "5.1.1",
    text: "<a@b.test> No such user here",
  });
});

test("a code that disagrees with the outcome, a 421 or a missing outcome gets a reply of the right class", () => {
  const r = (o: Parameters<typeof recipientReply>[1]) => {
    const x = recipientReply("a@b.test", o);
    return `${x.code} ${x.enhanced}`;
  };
  assert.equal(r(bounced(reply(250, "2.0.0", "x"), "m")), "550 5.0.0");
  assert.equal(r(deferred(reply(550, "5.1.1", "x"), "m")), "451 4.3.0");
  assert.equal(r(delivered(reply(451, "4.3.0", "x"), "m")), "250 2.0.0");
  assert.equal(r(deferred(reply(421, "4.3.2", "x"), "m")), "451 4.3.0");
  assert.equal(r(deferred(reply(452, "5.2.2", "x"), "m")), "452 4.0.0");
  assert.equal(r(undefined), "451 4.3.0");
});

test("text is one line without control characters, bounded", () => {
  const x = recipientReply(
    "a@b.test",
    deferred(reply(451, "4.3.0", "line one\r\nline\ttwo\x00" + "y".repeat(1000)), "m"),
  );
  // eslint-disable-next-line no-control-regex
  assert.ok(!/[\x00-\x1f]/.test(x.text), x.text);
  assert.ok(x.text.startsWith("<a@b.test> line one line two"));
  assert.ok(x.text.length < 320);
});

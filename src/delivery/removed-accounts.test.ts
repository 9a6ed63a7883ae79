// Removed accounts: a local job for an account that no longer exists is a 5.1.1 bounce per
// recipient, from the frontend's wrapper (the backends' lookup) and from a backend's placed
// channel (its directory) when placement names no backend; a lookup that fails leaves it a
// deferral (the channel's own answer), and an existing account is never second-guessed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { job } from "../../test/channel/fixtures.js";
import type { Account, RecipientLookup } from "../directory/directory.js";
import { deferred, delivered, type Outcome } from "../proto/outcome.js";
import { REPLIES } from "../proto/reply.js";
import { createPlacedLocalChannel } from "./placed.js";
import { withRemovedAccounts } from "./removed-accounts.js";
import type { Channel } from "./router.js";

const summary = (outs: Outcome[]): string[] =>
  outs.map((o) => `${o.kind} ${o.reply.code} ${o.reply.enhanced}`);

function counting(out: Outcome): Channel & { calls: number } {
  const ch = {
    calls: 0,
    deliver(j: Parameters<Channel["deliver"]>[0]) {
      ch.calls++;
      return Promise.resolve(j.recipients.map(() => out));
    },
  };
  return ch;
}

const noHome = deferred(REPLIES.noTarget({ why: "account a@example.test has no home backend" }), "none");

void test("frontend: a removed account bounces 5.1.1 without asking the channel", async () => {
  const inner = counting(noHome);
  const ch = withRemovedAccounts(inner, () => Promise.resolve({ kind: "unknown" }));
  assert.deepEqual(summary(await ch.deliver(job({ rcpts: ["a@example.test", "a@example.test"] }))), [
    "bounced 550 5.1.1",
    "bounced 550 5.1.1",
  ]);
  assert.equal(inner.calls, 0);
});

void test("frontend: a lookup that fails, or an account that exists, goes to the channel", async () => {
  const inner = counting(noHome);
  const down = withRemovedAccounts(inner, () => Promise.reject(new Error("no backend answered")));
  assert.deepEqual(summary(await down.deliver(job({ rcpts: ["a@example.test"] }))), ["deferred 451 4.4.0"]);
  const account = { kind: "account", account: {} as Account } as RecipientLookup;
  const ok = counting(delivered(REPLIES.deliveredMailbox, "b1"));
  const present = withRemovedAccounts(ok, () => Promise.resolve(account));
  assert.deepEqual(summary(await present.deliver(job({ rcpts: ["a@example.test"] }))), [
    `delivered ${REPLIES.deliveredMailbox.code} ${REPLIES.deliveredMailbox.enhanced}`,
  ]);
  assert.equal(inner.calls + ok.calls, 2);
});

void test("backend: no target and no account is 5.1.1; no target and the directory down stays 4.4.0", async () => {
  const placement = {
    targetFor: () => Promise.resolve({ none: "account a@example.test has no home backend" }),
  };
  const unused = counting(noHome);
  const gone = createPlacedLocalChannel({
    placement,
    mailbox: unused,
    channel: unused,
    directory: { getAccount: () => Promise.resolve(null) },
  });
  assert.deepEqual(summary(await gone.deliver(job({ rcpts: ["a@example.test"] }))), ["bounced 550 5.1.1"]);
  const down = createPlacedLocalChannel({
    placement,
    mailbox: unused,
    channel: unused,
    directory: { getAccount: () => Promise.reject(new Error("SQLITE_IOERR")) },
  });
  const [out] = await down.deliver(job({ rcpts: ["a@example.test"] }));
  assert.equal(out?.kind, "deferred");
  assert.match(out.reply.text, /has no home backend/);
  const exists = createPlacedLocalChannel({
    placement,
    mailbox: unused,
    channel: unused,
    directory: { getAccount: () => Promise.resolve({} as Account) },
  });
  assert.deepEqual(summary(await exists.deliver(job({ rcpts: ["a@example.test"] }))), ["deferred 451 4.4.0"]);
  assert.equal(unused.calls, 0);
});

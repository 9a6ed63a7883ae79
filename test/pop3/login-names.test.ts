// POP3 logins and the one canonical account name (src/proto/login-name.ts): once an account is
// throttled, no spelling of its name gets past the throttle (upper case, a padding space or tab
// in USER or inside AUTH PLAIN), and a padded name is refused like a wrong password, never looked
// up as typed. Over real sockets, on a fake clock that never moves.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Pop3Client } from "../kit/pop3-client.js";
import { FakeClock } from "../kit/clock.js";
import { startPop3 } from "./fixtures.js";

const plain = (user: string, pw: string): string => Buffer.from(`\0${user}\0${pw}`).toString("base64");

void test("a throttled account stays throttled for every spelling of its name, in USER/PASS and AUTH PLAIN", async (t) => {
  const clock = new FakeClock();
  const f = await startPop3(t, {
    clock,
    settings: {
      auth: { maxFailures: 5, maxFailuresPerAddress: 100 },
      pop3: { maxErrors: 100 },
    },
  });
  // Five guesses from five addresses: only the account's count reaches the limit.
  for (let i = 0; i < 5; i++) {
    const g = await Pop3Client.connect(f.port, "127.0.0.1", `127.0.0.${i + 2}`);
    await g.line();
    await g.cmd("USER alice@example.test");
    assert.match((await g.cmd("PASS guess"))!, /^-ERR \[AUTH\] invalid/);
    await g.cmd("QUIT");
  }
  const c = await Pop3Client.connect(f.port, "127.0.0.1", "127.0.0.9");
  await c.line();
  for (const name of [
    "alice@example.test",
    "ALICE@Example.Test",
    " alice@example.test",
    "alice@example.test ",
    "alice@example.test\t",
    "\talice@example.test",
  ]) {
    const r = await c.cmd(`AUTH PLAIN ${plain(name, "s3cret pass")}`);
    assert.match(r!, /^-ERR \[AUTH\]/, `AUTH PLAIN ${JSON.stringify(name)} must not log in`);
  }
  await c.cmd("USER ALICE@EXAMPLE.TEST");
  assert.match((await c.cmd("PASS s3cret pass"))!, /^-ERR \[AUTH\]/);
  // Another account is not locked.
  await c.cmd("USER bob@example.test");
  assert.match((await c.cmd("PASS bobpw"))!, /^\+OK/);
  await c.cmd("QUIT");
});

void test("a padded name is refused like a wrong password even when nothing is throttled", async (t) => {
  const f = await startPop3(t, { clock: new FakeClock() });
  const c = await Pop3Client.connect(f.port);
  await c.line();
  const padded = await c.cmd(`AUTH PLAIN ${plain("alice@example.test\t", "s3cret pass")}`);
  const wrong = await c.cmd(`AUTH PLAIN ${plain("alice@example.test", "wrong")}`);
  assert.equal(padded, wrong);
  assert.match((await c.cmd(`AUTH PLAIN ${plain("Alice@EXAMPLE.test", "s3cret pass")}`))!, /^\+OK/);
  await c.cmd("QUIT");
});

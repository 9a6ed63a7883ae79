// One message file that cannot be read must not lock the whole mailbox out of POP3: it is left
// out of the maildrop and logged with its path, the others list and retrieve as usual. Tests run
// as root, which ignores file modes, so unreadable is made as the kernel reports it to anyone:
// a file whose read fails with EIO (a symlink to /proc/self/mem, a regular file whose first page
// is unmapped: what a bad disk sector gives) and one whose stat fails with ELOOP.
import { test } from "node:test";
import assert from "node:assert/strict";
import { rename, symlink } from "node:fs/promises";
import { join } from "node:path";
import { Pop3Client } from "../kit/pop3-client.js";
import { startPop3 } from "./fixtures.js";

const box = (dir: string, sub: string): string => join(dir, "mail", "example.test", "alice", sub);

async function login(port: number): Promise<Pop3Client> {
  const c = await Pop3Client.connect(port);
  await c.line();
  assert.match((await c.cmd("USER alice@example.test"))!, /^\+OK/);
  return c;
}

void test("an unreadable message file is skipped and logged; the rest of the mailbox works", async (t) => {
  const f = await startPop3(t);
  await f.deliver("Subject: one\r\n\r\nfirst\r\n");
  await f.deliver("Subject: two\r\n\r\nsecond\r\n");
  const eio = join(box(f.dir, "new"), "1700000000.M1P1.bad,S=10");
  await symlink("/proc/self/mem", eio);
  const loop = join(box(f.dir, "cur"), "1700000001.M2P2.loop:2,S");
  await symlink(loop, loop);

  const c = await login(f.port);
  t.after(() => c.close());
  assert.match((await c.cmd("PASS s3cret pass"))!, /^\+OK alice@example\.test has 2 messages/);
  const list = await c.multiCmd("LIST");
  assert.equal(list.body.split("\r\n").filter((l) => l !== "").length, 2);
  const one = await c.multiCmd("RETR 1");
  assert.match(one.status!, /^\+OK/);
  assert.match(one.body, /Subject: one/);
  const two = await c.multiCmd("RETR 2");
  assert.match(two.body, /Subject: two/);
  assert.match((await c.cmd("QUIT"))!, /^\+OK/);

  const skipped = f.logs.records.filter((r) => r.text === "unreadable message skipped");
  assert.deepEqual(skipped.map((r) => r.fields["path"]).sort(), [loop, eio].sort());
});

void test("a message that turns unreadable after login gets -ERR; the session goes on", async (t) => {
  const f = await startPop3(t);
  await f.deliver("Subject: one\r\n\r\nfirst\r\n");
  const second = await f.deliver("Subject: two\r\n\r\nsecond\r\n");
  const c = await login(f.port);
  t.after(() => c.close());
  assert.match((await c.cmd("PASS s3cret pass"))!, /^\+OK alice@example\.test has 2 messages/);
  // Replaced under the same name by a file whose read fails (EIO).
  const tmp = `${second}.eio`;
  await symlink("/proc/self/mem", tmp);
  await rename(tmp, second);
  assert.match((await c.cmd("RETR 2"))!, /^-ERR \[SYS\/TEMP\]/);
  assert.match((await c.multiCmd("RETR 1")).body, /Subject: one/);
  assert.match((await c.cmd("QUIT"))!, /^\+OK/);
});

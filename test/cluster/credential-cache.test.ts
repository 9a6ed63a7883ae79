// A frontend's memory of password checks never outlives the password: a change, a disabled or a
// removed account takes effect on the next AUTH at once, with the (fake) clock standing still, so
// nothing here can be waiting for a cache lifetime to pass. Two frontends and a backend sharing
// one state file, SMTP AUTH over real sockets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SmtpClient, type SmtpReply } from "../kit/smtp-client.js";
import { addAccounts, startCluster, type Cluster } from "./fixtures.js";

const plain = (user: string, pw: string): string => Buffer.from(`\0${user}\0${pw}`).toString("base64");

async function authOn(c: Cluster, node: string, user: string, pw: string): Promise<SmtpReply> {
  const s = await SmtpClient.connect(c.node(node).submission[0]!.port);
  try {
    await s.expect(220);
    await s.cmd("EHLO client.test", 250);
    return await s.cmd(`AUTH PLAIN ${plain(user, pw)}`);
  } finally {
    s.close();
  }
}

const frontend = (id: string) => ({
  id,
  role: "frontend" as const,
  extra: { submission: { listen: ["127.0.0.1:0"] }, smtp: { authRequiresTls: false } },
});

void test("a changed password takes effect on a frontend at once, with no time passing", async (t) => {
  const c = await startCluster(t, [frontend("f1"), frontend("f2"), { id: "b1", role: "backend" }]);
  await addAccounts(c, { "alice@example.test": "b1", "bob@example.test": "b1" });
  const before = c.clock.now();
  for (const node of ["f1", "f2"]) {
    assert.equal((await authOn(c, node, "alice@example.test", "alice@example.test-pw")).code, 235);
    assert.equal((await authOn(c, node, "bob@example.test", "new-bob-pw")).code, 535);
  }
  await c.directory.updateAccount("alice@example.test", { password: "alice-new-pw" });
  await c.directory.updateAccount("bob@example.test", { password: "new-bob-pw" });
  for (const node of ["f1", "f2"]) {
    assert.equal((await authOn(c, node, "alice@example.test", "alice@example.test-pw")).code, 535);
    assert.equal((await authOn(c, node, "alice@example.test", "alice-new-pw")).code, 235);
    assert.equal((await authOn(c, node, "bob@example.test", "new-bob-pw")).code, 235);
  }
  await c.directory.updateAccount("alice@example.test", { enabled: false });
  assert.equal((await authOn(c, "f1", "alice@example.test", "alice-new-pw")).code, 535);
  await c.directory.removeAccount("bob@example.test");
  assert.equal((await authOn(c, "f1", "bob@example.test", "new-bob-pw")).code, 535);
  assert.equal(c.clock.now(), before, "no time passed");
});

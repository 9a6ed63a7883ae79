// Home backends in a running static cluster: an account created through any member's admin API
// (a frontend's too) gets a home — the one asked for, else the live backend with the fewest —
// and mail for it through a frontend lands there; an older account with no home is refused at
// RCPT with a 4xx (never accepted to wait in a queue, never a 5xx), directly or through an
// alias, until `cluster home` sets one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { SmtpClient } from "../kit/smtp-client.js";
import { startCluster, waitForMail, type Cluster } from "./fixtures.js";

async function admin(c: Cluster, id: string, method: string, path: string, body?: unknown) {
  const token = (await readFile(join(c.root, id, "admin.token"), "utf8")).trim();
  const res = await fetch(`http://127.0.0.1:${c.node(id).http.port}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function rcpt(port: number, to: string): Promise<{ code: number; text: string }> {
  const c = await SmtpClient.connect(port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    await c.cmd("MAIL FROM:<someone@remote.test>", 250);
    const r = await c.cmd(`RCPT TO:<${to}>`);
    if (r.code === 250) {
      await c.cmd("DATA", 354);
      await c.cmd("Subject: homes\r\n\r\nHello.\r\n.", 250);
    }
    await c.cmd("QUIT");
    return { code: r.code, text: r.lines.join("\n") };
  } finally {
    c.close();
  }
}

test("accounts created through the admin API get a home backend; mail for them lands there", async (t) => {
  const c = await startCluster(t, [
    { id: "f1", role: "frontend" },
    { id: "b1", role: "backend" },
    { id: "b2", role: "backend" },
  ]);
  assert.equal((await admin(c, "f1", "POST", "/api/domains", { name: "example.test" })).status, 201);
  const asked = await admin(c, "f1", "POST", "/api/accounts", {
    address: "alice@example.test",
    password: "pw-alice",
    home: "b2",
  });
  assert.equal(asked.status, 201, JSON.stringify(asked.body));
  assert.equal(asked.body["home"], "b2");
  // b1 has no homes, b2 has one: the chosen home is b1.
  const chosen = await admin(c, "b2", "POST", "/api/accounts", {
    address: "bob@example.test",
    password: "pw",
  });
  assert.equal(chosen.status, 201);
  assert.equal(chosen.body["home"], "b1");
  assert.deepEqual(await c.state.homes(), [
    { account: "alice@example.test", node: "b2" },
    { account: "bob@example.test", node: "b1" },
  ]);
  // A frontend cannot be a home; nothing is created.
  const bad = await admin(c, "f1", "POST", "/api/accounts", {
    address: "carol@example.test",
    password: "pw",
    home: "f1",
  });
  assert.equal(bad.status, 409);
  assert.match(String(bad.body["error"]), /f1 is a frontend/);
  assert.equal(await c.directory.getAccount("carol@example.test"), null);

  const f1 = c.node("f1").smtp[0]!.port;
  assert.equal((await rcpt(f1, "alice@example.test")).code, 250);
  assert.equal((await rcpt(f1, "bob@example.test")).code, 250);
  await waitForMail(c, "b2", "alice@example.test");
  await waitForMail(c, "b1", "bob@example.test");
  assert.equal((await c.mailbox("b1", "alice@example.test")).length, 0);

  // Removing the account forgets its home.
  assert.equal((await admin(c, "f1", "DELETE", "/api/accounts/bob%40example.test")).status, 200);
  assert.equal(await c.state.homeOf("bob@example.test"), null);
});

test("an account without a home is refused at RCPT with 450 4.2.0 until it has one", async (t) => {
  const c = await startCluster(t, [
    { id: "f1", role: "frontend" },
    { id: "b1", role: "backend" },
  ]);
  // Older data: an account written straight into the directory, no home.
  await c.directory.addDomain("example.test");
  await c.directory.addAccount("old@example.test", "pw");
  const f1 = c.node("f1").smtp[0]!.port;
  const refused = await rcpt(f1, "old@example.test");
  assert.equal(refused.code, 450);
  assert.match(refused.text, /^4\.2\.0 /);
  assert.equal(c.node("f1").queue.size(), 0);
  // Unknown addresses are still a 550: the home check is only for existing accounts.
  assert.equal((await rcpt(f1, "nobody@example.test")).code, 550);
  // An alias to it is refused the same way.
  await c.directory.addAlias("info@example.test", ["old@example.test"]);
  assert.equal((await rcpt(f1, "info@example.test")).code, 450);

  await c.state.setHome("old@example.test", "b1");
  assert.equal((await rcpt(f1, "old@example.test")).code, 250);
  await waitForMail(c, "b1", "old@example.test");
  assert.equal((await rcpt(f1, "info@example.test")).code, 250);
  await waitForMail(c, "b1", "old@example.test", 2);
});

// The message sources in a static cluster (in-process nodes, the real wiring): a backend runs
// the submission API and the Submitted folder, and mail they take for an account homed on
// another backend goes there over the delivery channel; frontends run no sources.
import { test } from "node:test";
import assert from "node:assert/strict";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { addAccounts, hasMail, startCluster, waitForMail } from "../cluster/fixtures.js";

test("a backend's submission API and Submitted folder deliver to another backend's account; a frontend has neither", async (t) => {
  const c = await startCluster(t, [
    { id: "f1", role: "frontend" },
    { id: "b1", role: "backend" },
    { id: "b2", role: "backend" },
  ]);
  await addAccounts(c, { "alice@example.test": "b1", "bob@example.test": "b2" });
  const auth = `Basic ${Buffer.from("alice@example.test:alice@example.test-pw").toString("base64")}`;
  const body = JSON.stringify({
    from: "alice@example.test",
    to: "bob@example.test",
    subject: "from b1",
    text: "hi",
  });
  const post = (id: string) =>
    fetch(`http://127.0.0.1:${c.node(id).http.port}/submit/v1/messages`, {
      method: "POST",
      headers: { authorization: auth, "content-type": "application/json" },
      body,
    });

  const r = await post("b1");
  assert.equal(r.status, 202, await r.clone().text());
  const answer = (await r.json()) as Record<string, unknown>;
  assert.equal(answer["node"], "b1");
  const [copy] = await waitForMail(c, "b2", "bob@example.test");
  assert.match(copy!, /Subject: from b1/);
  assert.match(copy!, /with HTTP \(submission API, alice@example\.test\)/);
  const logged = c.logs.get("b1")!.records.find((x) => x.tag === "API" && x.text === "submitted");
  assert.equal(logged?.fields["source"], "api");

  const front = await post("f1");
  assert.equal(front.status, 404, "frontends run no message sources");

  const dir = join(c.root, "b1", "Submitted");
  await writeFile(join(dir, "m.tmp"), "Envelope-To: bob@example.test\nSubject: dropped on b1\n\nx\n");
  await rename(join(dir, "m.tmp"), join(dir, "m.sub"));
  // The watch sees it at once; cluster time passing lets the poll find it too.
  await c.passTime(10_000, hasMail(c, "b2", "bob@example.test", 2));
  const both = await c.mailbox("b2", "bob@example.test");
  assert.ok(both.some((m) => m.includes("Subject: dropped on b1")));
});

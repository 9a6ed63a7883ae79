// The delivery channel (LMTP) applies the header section's limits too: every recipient hears
// 552 5.3.4 or 554 5.6.0 after the data, nothing is delivered, and the session goes on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { proof } from "../../src/cluster/secret.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { SECRET, startServer } from "./fixtures.js";

test("a header past maxHeaderBytes or maxHeaderFields is refused for every recipient", async (t) => {
  const { port, backend } = await startServer(t, undefined, {
    limits: { maxHeaderBytes: 2000, maxHeaderFields: 20 },
  });
  const c = await SmtpClient.connect(port);
  t.after(() => Promise.resolve(c.close()));
  const nonce = /LMTP ([0-9a-f]{32})$/.exec((await c.expect(220)).lines[0] ?? "")![1]!;
  await c.cmd("LHLO frontend1.test", 250);
  await c.cmd(`AUTH X-MAILYARD-HMAC frontend1 ${proof(SECRET, "lmtp", nonce, "frontend1")}`, 235);
  const send = async (text: string): Promise<string[]> => {
    c.send("MAIL FROM:<a@origin.test>\r\nRCPT TO:<x@example.test>\r\nRCPT TO:<y@example.test>\r\nDATA\r\n");
    await c.replies(4);
    c.send(text + ".\r\n");
    return (await c.replies(2)).map((r) => `${r.code} ${r.lines[0]!}`);
  };
  assert.deepEqual(await send("Subject: x\r\n" + " y\r\n".repeat(1000) + "\r\nbody\r\n"), [
    "552 5.3.4 <x@example.test> Message header exceeds fixed maximum size",
    "552 5.3.4 <y@example.test> Message header exceeds fixed maximum size",
  ]);
  assert.deepEqual(await send("A: 1\r\n".repeat(21) + "\r\nbody\r\n"), [
    "554 5.6.0 <x@example.test> Message header has too many fields",
    "554 5.6.0 <y@example.test> Message header has too many fields",
  ]);
  assert.equal(backend.jobs.length, 0);
  const ok = await send("A: 1\r\n".repeat(20) + "\r\n" + "B: 2\r\n".repeat(100));
  assert.match(ok[0]!, /^250 /);
  assert.equal(backend.jobs.length, 1);
});

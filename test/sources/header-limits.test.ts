// The header section's limits on the message sources: the submission API (raw) answers 413 with
// the SMTP reply, the node's sendmail route too, and the sendmail program exits 65 (EX_DATAERR)
// before handing anything over; nothing is delivered.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { sendmailMain } from "../../src/cli/sendmail.js";
import { startSink, type Sink } from "../kit/sink.js";
import { startRig, type Rig } from "./rig.js";

let sink: Sink;
let rig: Rig;

const FOLDED = "To: bob@example.test\r\nSubject: money\r\n" + " money\r\n".repeat(200_000) + "\r\nbody\r\n";
const MANY = "To: bob@example.test\r\n" + "X-A: 1\r\n".repeat(1000) + "\r\nbody\r\n";

before(async () => {
  sink = await startSink();
  rig = await startRig(null, { forwardPort: sink.port, extra: { smtp: { maxMessageSize: 5_000_000 } } });
});

after(async () => {
  await rig?.stop();
  await sink?.stop();
  if (rig !== undefined) await rm(rig.dataDir, { recursive: true, force: true });
});

async function post(path: string, body: string, auth: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`${rig.base}${path}`, {
    method: "POST",
    headers: { "content-type": "message/rfc822", authorization: auth },
    body,
  });
  return { status: r.status, text: await r.text() };
}

test("submission API: a header past smtp.maxHeaderBytes or maxHeaderFields is 413 with the SMTP reply", async () => {
  const alice = `Basic ${Buffer.from("alice@example.test:alice-pw").toString("base64")}`;
  const big = await post("/submit/v1/raw", FOLDED, alice);
  assert.equal(big.status, 413, big.text);
  assert.match(big.text, /552 5\.3\.4 Message header exceeds fixed maximum size/);
  const many = await post("/submit/v1/raw", MANY, alice);
  assert.equal(many.status, 413, many.text);
  assert.match(many.text, /554 5\.6\.0 Message header has too many fields/);
  const fine = await post("/submit/v1/raw", "To: bob@example.test\r\nSubject: hi\r\n\r\nbody\r\n", alice);
  assert.equal(fine.status, 202, fine.text);
});

test("the node's sendmail route refuses it the same way", async () => {
  const token = (await readFile(join(rig.dataDir, "admin.token"), "utf8")).trim();
  const r = await post(
    "/api/sendmail?from=alice%40example.test&to=bob%40example.test",
    FOLDED,
    `Bearer ${token}`,
  );
  assert.equal(r.status, 413, r.text);
  assert.match(r.text, /552 5\.3\.4/);
});

test("the sendmail program exits 65 and says why, handing nothing over", async () => {
  const errors: string[] = [];
  const code = await sendmailMain(["-i", "bob@example.test"], {
    err: (t: string) => void errors.push(t),
    env: {
      MAILYARD_DATADIR: rig.dataDir,
      MAILYARD_HTTP_LISTEN: `127.0.0.1:${rig.node.http.port}`,
      MAILYARD_LOG_STDOUT: "false",
    },
    cwd: rig.dataDir,
    stdin: Readable.from([Buffer.from(MANY)]),
  });
  assert.equal(code, 65, errors.join("\n"));
  assert.match(errors.join("\n"), /554 5\.6\.0/);
  assert.deepEqual(await rig.mailbox("bob"), [], "nothing delivered by any of these");
});

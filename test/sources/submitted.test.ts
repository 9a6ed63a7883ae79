// The Submitted folder on a real node in-process: .sub files with Envelope-To, Envelope-Ignore
// and Bcc delivered into the Maildir and to Postfix's smtp-sink (smtp.forwardTo), tagged
// `submitted`; a broken file becomes .bad with its reason logged and is never tried again; a
// .tmp file is not taken until it is renamed. A temporary refusal keeps the file for the next
// poll (the folder driven directly, with a submitter that answers 451 first and a fake clock).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { reply } from "../../src/proto/reply.js";
import type { SubmitResult, Submitter } from "../../src/queue/submit.js";
import { startSubmittedFolder } from "../../src/sources/submitted/folder.js";
import { cryptoRandom } from "../../src/world/random.js";
import { FakeClock } from "../kit/clock.js";
import { memoryLogSink } from "../kit/log.js";
import { waitFor } from "../kit/load.js";
import { startSink, type Sink } from "../kit/sink.js";
import { startRig, type Rig } from "./rig.js";

let sink: Sink;
let rig: Rig;
let folder: string;

/** Write NAME.tmp, then rename it to NAME.sub, as writers should. */
async function drop(name: string, text: string): Promise<void> {
  await writeFile(join(folder, `${name}.tmp`), text);
  await rename(join(folder, `${name}.tmp`), join(folder, `${name}.sub`));
}

const files = async (): Promise<string[]> => (await readdir(folder)).sort();
const find = async (user: string, subject: string): Promise<string | undefined> =>
  (await rig.mailbox(user)).find((m) => m.includes(`Subject: ${subject}\r\n`));

before(async () => {
  sink = await startSink();
  rig = await startRig(null, { forwardPort: sink.port, extra: { submitted: { pollSeconds: 1 } } });
  folder = join(rig.dataDir, "Submitted");
});

after(async () => {
  await rig?.stop();
  await sink?.stop();
  if (rig !== undefined) await rm(rig.dataDir, { recursive: true, force: true });
});

test("Envelope-To gives the recipients, locally and remotely; To/Cc are not used; tagged submitted", async () => {
  await drop(
    "envelope-to",
    "Envelope-From: <robot@example.test>\nEnvelope-To: bob@example.test\nEnvelope-To: <zoe@remote.test>\nFrom: Robot <robot@example.test>\nTo: alice@example.test\nSubject: envelope-to\n\nbody\n",
  );
  await waitFor("bob's copy", async () => (await find("bob", "envelope-to")) !== undefined);
  await waitFor("zoe's copy at smtp-sink", async () => (await sink.count()) === 1);
  await waitFor("the file is deleted", async () => (await files()).length === 0);
  const copy = (await find("bob", "envelope-to"))!;
  assert.match(copy, /^Return-Path: <robot@example\.test>\r\n/);
  assert.doesNotMatch(copy, /Envelope-(To|From)/);
  assert.match(copy, /^To: alice@example\.test\r$/m, "the header is kept");
  assert.match(copy, /with local \(Submitted folder\)/);
  assert.equal(await find("alice", "envelope-to"), undefined, "To: is not an envelope recipient here");
  const [remote] = await sink.messages();
  assert.match(remote!, /^X-Mail-Args: <robot@example\.test>/m);
  assert.match(remote!, /^X-Rcpt-Args: <zoe@remote\.test>$/m);
  const logged = rig.logs.records.find(
    (x) => x.tag === "PIPE" && x.text === "submitted" && x.fields["file"] === "envelope-to.sub",
  );
  assert.equal(logged?.fields["source"], "submitted");
  assert.ok(
    rig.logs.records.some(
      (x) =>
        x.tag === "SUBMIT" && x.fields["id"] === logged?.fields["id"] && x.fields["source"] === "submitted",
    ),
  );
  const metrics = await (await fetch(`${rig.base}/metrics`)).text();
  assert.match(
    metrics,
    /^mailyard_messages_received_total\{source="submitted"\} 1$/m,
    "counted under its source",
  );
});

test("without Envelope-To: To/Cc/Bcc less Envelope-Ignore; Bcc delivered but removed", async () => {
  await drop(
    "ignore",
    "From: robot@example.test\nTo: bob@example.test, list@remote.test\nBcc: alice@example.test\nEnvelope-Ignore: list@remote.test\nSubject: ignore\n\nbody\n",
  );
  await waitFor(
    "bob's and alice's copies",
    async () => (await find("bob", "ignore")) !== undefined && (await find("alice", "ignore")) !== undefined,
  );
  await waitFor("the file is deleted", async () => (await files()).length === 0);
  for (const copy of [(await find("bob", "ignore"))!, (await find("alice", "ignore"))!]) {
    assert.doesNotMatch(copy, /^Bcc:|^Envelope-Ignore:/im);
    assert.match(copy, /^To: bob@example\.test, list@remote\.test\r$/m);
    assert.match(copy, /^Message-ID: </m, "a Message-ID was added");
  }
  assert.equal(await sink.count(), 1, "list@remote.test was ignored: nothing more went out");
});

test("a broken file becomes .bad with the reason logged and is not tried again; .tmp is not taken", async () => {
  await writeFile(join(folder, "pending.tmp"), "To: bob@example.test\nSubject: tmp\n\nnot yet\n");
  await drop("broken", "this is not a header\n\nbody\n");
  await drop("nobody", "From: robot@example.test\nSubject: nobody\n\nbody\n");
  await waitFor("both refused", async () => (await files()).filter((f) => f.endsWith(".bad")).length === 2);
  assert.deepEqual(await files(), ["broken.bad", "nobody.bad", "pending.tmp"]);
  const reasons = rig.logs.records.filter((x) => x.tag === "PIPE" && x.text === "submitted file refused");
  assert.match(
    String(reasons.find((x) => x.fields["file"] === "broken.sub")?.fields["reason"]),
    /not a header field/,
  );
  assert.equal(reasons.find((x) => x.fields["file"] === "nobody.sub")?.fields["reason"], "no recipients");

  // Later scans (a new file triggers one; polls run every second) leave .bad and .tmp alone.
  await drop("later", "To: bob@example.test\nSubject: later\n\nbody\n");
  await waitFor("the later file", async () => (await find("bob", "later")) !== undefined);
  assert.equal(
    rig.logs.records.filter((x) => x.text === "submitted file refused").length,
    2,
    "refused once each",
  );
  assert.deepEqual(await files(), ["broken.bad", "nobody.bad", "pending.tmp"]);
  assert.equal(await find("bob", "tmp"), undefined, "a .tmp file is not taken");

  await rename(join(folder, "pending.tmp"), join(folder, "pending.sub"));
  await waitFor("the renamed file", async () => (await find("bob", "tmp")) !== undefined);
  assert.deepEqual(await files(), ["broken.bad", "nobody.bad"]);
});

test("a temporary refusal keeps the file; the next poll submits it", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-submitted-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const clock = new FakeClock();
  const logs = memoryLogSink();
  // fs.watch may start scans of its own: the submitter answers 451 until the test says otherwise.
  let temporary = true;
  const calls: string[][] = [];
  const submitter: Submitter = {
    submit(draft): Promise<SubmitResult> {
      calls.push(draft.recipients.map((r) => r.address));
      return Promise.resolve(
        temporary
          ? { ok: false, reply: reply(451, "4.3.0", "Local error in processing, try again later") }
          : { ok: true, id: `Q${calls.length}`, node: "node1", remote: false },
      );
    },
  };
  const f = await startSubmittedFolder({
    dir,
    pollMs: 5000,
    maxMessageSize: 1_000_000,
    hostname: "mx.example.test",
    submitter,
    clock,
    random: cryptoRandom,
    log: logs.for("PIPE"),
  });
  t.after(() => f.close());
  await writeFile(join(dir, "m.tmp"), "To: bob@example.test\nSubject: retry\n\nbody\n");
  await rename(join(dir, "m.tmp"), join(dir, "m.sub"));
  await f.scan();
  assert.ok(calls.length >= 1);
  assert.deepEqual(calls[0], ["bob@example.test"]);
  assert.deepEqual(await readdir(dir), ["m.sub"], "kept after the 451");
  assert.ok(
    logs.records.some((x) => x.text === "submit deferred, file kept" && x.fields["file"] === "m.sub"),
  );

  temporary = false;
  const tried = calls.length;
  clock.advance(5000);
  // The file goes first, the record after it: wait for both.
  await waitFor(
    "the poll's submit",
    async () => (await readdir(dir)).length === 0 && logs.records.some((x) => x.text === "submitted"),
  );
  assert.equal(calls.length, tried + 1, "submitted once more, then deleted");
  assert.equal(logs.records.filter((x) => x.text === "submitted").length, 1);
});

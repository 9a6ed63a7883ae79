// Remote submit under faults, with real member processes (processes-kit.ts): a backend whose
// Submit Messages is Remotely takes a bounded load on its submission port while its only
// Locally for Others frontend is killed with SIGKILL mid-load and later restarted. Every message
// that got a 250 from the backend must arrive (at smtp-sink, or in the local account's Maildir):
// handed over before the kill, queued by the backend itself after it, or resumed from the
// frontend's spool after the restart. Duplicates (a 250 lost in the kill) are counted, not failed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { runLoad, waitFor } from "../kit/load.js";
import { startSink } from "../kit/sink.js";
import { maildirTags, startProcCluster } from "./processes-kit.js";
import { FELL_BACK, LOCALLY_FOR_OTHERS, REMOTELY_BACKEND, SUBMITTED_REMOTELY } from "./submit-kit.js";

test("a Locally for Others frontend killed mid-load: the Remotely backend falls back to its own queue and loses nothing", async (t) => {
  const sink = await startSink();
  t.after(() => sink.stop());
  const c = await startProcCluster(t);
  await c.directory.addDomain("example.test");
  await c.directory.addAccount("u1@example.test", "pw");
  await c.state.setHome("u1@example.test", "b1");
  const forward = `smtp.forwardTo=127.0.0.1:${sink.port}`;
  const lfo = LOCALLY_FOR_OTHERS;
  let f1 = await c.start("f1", "frontend", [forward, lfo]);
  const b1 = await c.start("b1", "backend", REMOTELY_BACKEND);
  await c.waitLive([f1, b1], ["b1", "f1"]);
  assert.ok(b1.submission !== null, "b1 has a submission port");

  const messages = 300;
  const killAt = 100;
  // Every third message is for the local account (f1 hands it back over the channel).
  const to = (i: number): string => (i % 3 === 0 ? "u1@example.test" : `r${i}@remote.test`);
  const result = await runLoad({
    port: b1.submission,
    sessions: 8,
    messages,
    from: "u1@example.test",
    auth: { user: "u1@example.test", password: "pw" },
    to,
    bodyBytes: 2048,
    timeoutMs: 60_000,
    onAck: (n) => {
      if (n === killAt) f1.child.kill("SIGKILL");
    },
  });
  await f1.exited;
  assert.ok(result.acked.length >= messages * 0.9, `${result.acked.length} of ${messages} acknowledged`);
  const handedOver = b1.lines().filter((l) => SUBMITTED_REMOTELY.test(l)).length;
  const fellBack = b1.lines().filter((l) => FELL_BACK.test(l));
  assert.ok(handedOver >= killAt - 10, `handed over before the kill: ${handedOver}`);
  assert.ok(fellBack.length > 0, "some submissions fell back once f1 was gone");
  assert.ok((await b1.health()).queue > 0, "b1 queued what it could not hand over");

  f1 = await c.start("f1", "frontend", [forward, lfo], f1.dataDir);
  const sinkTags = async (): Promise<string[]> =>
    (await sink.messages()).flatMap((m) => [...m.matchAll(/^Subject: (load-\d+)\r?$/gm)].map((x) => x[1]!));
  const found = async (): Promise<Map<string, number>> => {
    const seen = new Map<string, number>();
    for (const tag of [
      ...(await sinkTags()),
      ...(await maildirTags(join(b1.dataDir, "mail"), "u1@example.test")),
    ])
      seen.set(tag, (seen.get(tag) ?? 0) + 1);
    return seen;
  };
  const lost = async (): Promise<string[]> => {
    const seen = await found();
    return result.acked.filter((tag) => !seen.has(tag));
  };
  await waitFor("every acknowledged message delivered", async () => (await lost()).length === 0, 60_000);
  await waitFor("b1's queue empty", async () => (await b1.health()).queue === 0, 30_000);
  await waitFor("f1's queue empty", async () => (await f1.health()).queue === 0, 30_000);
  assert.deepEqual(await lost(), []);
  const dups = [...(await found()).values()].filter((n) => n > 1).length;
  t.diagnostic(
    `remote submit, frontend SIGKILL: acked=${result.acked.length} failed=${result.failed.length} handed-over=${handedOver} fell-back=${fellBack.length} duplicated=${dups}`,
  );
});

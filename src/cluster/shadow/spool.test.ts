import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeClock } from "../../../test/kit/clock.js";
import { memoryLogSink } from "../../../test/kit/log.js";
import { waitFor } from "../../../test/kit/load.js";
import type { Envelope } from "../../queue/envelope.js";
import { createSpool } from "../../queue/spool.js";
import type { ShadowLink } from "./link.js";
import type { ShadowRecord } from "./records.js";
import { NoShadowCopy, shadowedSpool, type ShadowMode, type ShadowPeer } from "./spool.js";

const ID = "0MX7LM0IJ0000AAAA";
const envelope = (id: string, size: number): Envelope => ({
  id,
  returnPath: "a@remote.test",
  recipients: [{ address: "b@remote.test", original: null, notify: null, orcpt: null }],
  ret: null,
  envid: null,
  body: "7BIT",
  smtputf8: false,
  source: "smtp",
  authUser: null,
  client: null,
  arrival: 1,
  size,
});

/** Links that record what they were given and answer when the test says. */
function fakeLinks() {
  const sent: { peer: string; records: readonly ShadowRecord[]; lazy: boolean; answer(e?: Error): void }[] =
    [];
  const auto = new Map<string, "ok" | "fail">();
  const link = (peer: ShadowPeer): ShadowLink => ({
    peer: peer.id,
    send: (records, lazy = false) =>
      new Promise<void>((resolve, reject) => {
        const answer = (e?: Error) => (e === undefined ? resolve() : reject(e));
        sent.push({ peer: peer.id, records, lazy, answer });
        const a = auto.get(peer.id);
        if (a === "ok") answer();
        if (a === "fail") answer(new Error("peer gone"));
      }),
    flush: () => Promise.resolve(),
    batches: () => 0,
    close: () => undefined,
  });
  return { sent, auto, link };
}

async function setup(
  t: { after(fn: () => Promise<void>): void },
  mode: Exclude<ShadowMode, "off">,
  peers: ShadowPeer[],
) {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-shadow-spool-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const links = fakeLinks();
  let unprotected = 0;
  const spool = shadowedSpool(createSpool(dir, memoryLogSink().for("QUEUE")), {
    mode,
    selfId: "f1",
    peers: () => peers,
    link: links.link,
    clock: new FakeClock(),
    retryMs: 1000,
    log: memoryLogSink().for("QUEUE"),
    unprotected: () => void unprotected++,
  });
  await spool.open();
  return { dir, spool, links, peers, unprotected: () => unprotected };
}

async function write(spool: Awaited<ReturnType<typeof setup>>["spool"], id: string, text: string) {
  const w = await spool.begin(id);
  await w.write(Buffer.from(text));
  return { w, done: w.commit(envelope(id, text.length)) };
}

test("a commit resolves only once the peer has the copy, which is the whole queue file; a reset goes first", async (t) => {
  const s = await setup(t, "preferred", [{ id: "f2", smtp: "x:1" }]);
  const { done } = await write(s.spool, ID, "Subject: x\r\n\r\nhi\r\n");
  let resolved = false;
  void done.then(() => (resolved = true));
  // The local commit is done (the file is in active/), the peer has not answered: no 250 yet.
  await waitFor("the local commit", async () => (await readdir(join(s.dir, "active"))).includes(ID));
  await waitFor("the copy sent", () => s.links.sent.length === 2);
  assert.equal(resolved, false, "no 250 before the peer's answer");
  assert.deepEqual(
    s.links.sent.map((x) => x.records.map((r) => r.kind)),
    [["reset"], ["add"]],
  );
  const add = s.links.sent[1]!.records[0]!;
  assert.ok(add.kind === "add");
  const file = Buffer.concat(add.data);
  assert.ok(file.subarray(0, 18).equals(Buffer.from("Subject: x\r\n\r\nhi\r\n")));
  assert.equal(file.subarray(file.length - 32, file.length - 24).toString(), "MAILYQ1\n");
  for (const x of s.links.sent) x.answer();
  await done;
  assert.equal(s.spool.holder(ID), "f2");
  // Finished: a lazy drop to the holder.
  s.links.auto.set("f2", "ok");
  await s.spool.saveState(ID, "active", [
    {
      status: "pending",
      attempts: 1,
      nextAttempt: 5,
      lastReply: null,
      lastRelay: null,
      warningsSent: 0,
      reported: false,
    },
  ]);
  await s.spool.remove(ID);
  assert.deepEqual(
    s.links.sent.slice(2).map((x) => [x.records[0]!.kind, x.lazy]),
    [
      ["state", true],
      ["drop", true],
    ],
  );
});

test("preferred accepts without a copy when the peer fails; required refuses and keeps nothing", async (t) => {
  const pref = await setup(t, "preferred", [{ id: "f2", smtp: "x:1" }]);
  pref.links.auto.set("f2", "fail");
  await (
    await write(pref.spool, ID, "hello")
  ).done;
  assert.equal(pref.unprotected(), 1);
  assert.equal(pref.spool.holder(ID), undefined);

  const req = await setup(t, "required", [{ id: "f2", smtp: "x:1" }]);
  req.links.auto.set("f2", "fail");
  const { w, done } = await write(req.spool, ID, "hello");
  await assert.rejects(done, NoShadowCopy);
  await w.abort();
  assert.deepEqual(await readdir(join(req.dir, "active")), [], "the local file was removed again");

  const alone = await setup(t, "required", []);
  const a = await write(alone.spool, ID, "hello");
  await assert.rejects(a.done, /no live peer/);
  await a.w.abort();
  assert.deepEqual(await readdir(join(alone.dir, "active")), []);
});

test("resync moves every copy to the new peer, then tells the old one to forget ours", async (t) => {
  const peers: ShadowPeer[] = [];
  const s = await setup(t, "preferred", peers);
  await (
    await write(s.spool, ID, "one")
  ).done;
  await (
    await write(s.spool, "0MX7LM0IJ0000BBBB", "two")
  ).done;
  assert.equal(s.unprotected(), 2);
  peers.push({ id: "f2", smtp: "x:1" });
  s.links.auto.set("f2", "ok");
  await s.spool.resync();
  assert.equal(s.spool.holder(ID), "f2");
  assert.equal(s.spool.unprotected(), 0);
  const toF2 = s.links.sent.filter((x) => x.peer === "f2").flatMap((x) => x.records.map((r) => r.kind));
  assert.deepEqual(toF2, ["reset", "add", "add"]);

  // f3 comes first by rendezvous order for f1 or not: whichever is chosen gets everything, and
  // the other is reset.
  peers.push({ id: "f3", smtp: "x:2" });
  s.links.auto.set("f3", "ok");
  await s.spool.resync();
  const chosen = s.spool.holder(ID)!;
  const other = chosen === "f2" ? "f3" : "f2";
  assert.equal(s.spool.holder("0MX7LM0IJ0000BBBB"), chosen);
  const last = s.links.sent.filter((x) => x.peer === other).at(-1)!;
  assert.deepEqual(
    last.records.map((r) => r.kind),
    ["reset"],
  );
});

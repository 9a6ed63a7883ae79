// The drained node's side on a fake queue and fake peers: a request row read at start pauses
// the queue before it starts and refuses connections; each message is removed only after a
// peer's 250 (the next peer tried on a failure, a 5xx kept for the operator); the answer row is
// written once the queue is empty, for this request; an undrain resumes deliveries only once
// the round under way has finished.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../../../test/kit/clock.js";
import { waitFor } from "../../../test/kit/load.js";
import { memoryLogSink } from "../../../test/kit/log.js";
import type { HandOver } from "../../queue/handover.js";
import type { EnvelopeDraft } from "../../queue/types.js";
import type { RemoteSubmitResult } from "../submit/client.js";
import { createDrainer, type DrainTarget } from "./drainer.js";
import { doneKey, doneValue, drainState, requestKey, requestValue } from "./keys.js";

function fakeQueue(ids: string[]) {
  const queued = new Set(ids);
  const calls: string[] = [];
  const handOver: HandOver = {
    paused: false,
    pause() {
      calls.push("pause");
      (this as { paused: boolean }).paused = true;
      return Promise.resolve();
    },
    resume() {
      calls.push("resume");
      (this as { paused: boolean }).paused = false;
    },
    handable: () => [...queued].sort(),
    held: () => 0,
    read: (id) =>
      Promise.resolve(
        queued.has(id)
          ? { draft: { returnPath: id } as unknown as EnvelopeDraft, message: Buffer.from(id) }
          : null,
      ),
    handedOver(id, to) {
      calls.push(`handed ${id} to ${to}`);
      return Promise.resolve(queued.delete(id));
    },
  };
  return { queue: { handOver, size: () => queued.size }, queued, calls };
}

function fakeState(rows: Map<string, string>) {
  return {
    rows,
    getSetting: (k: string) => Promise.resolve(rows.get(k) ?? null),
    setSetting: (k: string, v: string | null) => {
      if (v === null) rows.delete(k);
      else rows.set(k, v);
      return Promise.resolve();
    },
  };
}

const peers: DrainTarget[] = [
  { id: "f2", smtp: "127.0.0.1:1" },
  { id: "f3", smtp: "127.0.0.1:2" },
];

void test("a drained node hands each message on after a 250, then says it is empty", async () => {
  const clock = new FakeClock(1_000);
  const q = fakeQueue(["m1", "m2", "m3"]);
  const state = fakeState(new Map([[requestKey("f1"), requestValue(500)]]));
  const sent: string[] = [];
  const send = (to: DrainTarget, draft: EnvelopeDraft): Promise<RemoteSubmitResult> => {
    sent.push(`${draft.returnPath}->${to.id}`);
    if (draft.returnPath === "m2" && to.id === "f3")
      return Promise.resolve({ ok: false, reason: "connection refused" });
    if (draft.returnPath === "m3")
      return Promise.resolve({
        ok: false,
        reason: "XSUBMIT refused: 550",
        refused: { code: 550, enhanced: "5.7.1", text: "rule" },
      });
    return Promise.resolve({ ok: true, id: `x-${draft.returnPath}` });
  };
  const d = createDrainer({
    selfId: "f1",
    state,
    queue: q.queue,
    peers: () => peers,
    send,
    clock,
    intervalMs: 1000,
    parallel: 1,
    log: memoryLogSink().for("QUEUE"),
  });
  await d.init();
  assert.equal(d.refusing(), true);
  assert.deepEqual(q.calls, ["pause"], "paused before the queue starts; nothing sent yet");
  d.start();
  await waitFor("every message tried", () => sent.length >= 4 && q.queued.size === 1, 5_000);
  await d.stop();
  // m1 to f2; m2 starts at f3 (refused connection), then f2; m3 refused for good: it stays.
  // The next round (something moved) tries m3 once more, at its next peer, and stops there.
  assert.deepEqual(sent, ["m1->f2", "m2->f3", "m2->f2", "m3->f2", "m3->f3"]);
  assert.deepEqual([...q.queued], ["m3"]);
  assert.equal(state.rows.has(doneKey("f1")), false, "not empty: no answer");
  assert.equal(d.status().state, "draining");
});

void test("an empty queue is answered for the current request only; undrain resumes after the round", async () => {
  const clock = new FakeClock(1_000);
  const q = fakeQueue(["m1"]);
  // An answer to an earlier request does not count.
  const state = fakeState(
    new Map([
      [requestKey("f1"), requestValue(700)],
      [doneKey("f1"), doneValue(600, 650)],
    ]),
  );
  let release: () => void = () => undefined;
  let sending = false;
  const gate = new Promise<void>((r) => (release = r));
  const d = createDrainer({
    selfId: "f1",
    state,
    queue: q.queue,
    peers: () => peers,
    send: async () => {
      sending = true;
      await gate;
      return { ok: true, id: "x" };
    },
    clock,
    intervalMs: 1000,
    parallel: 4,
    log: memoryLogSink().for("QUEUE"),
  });
  await d.init();
  assert.equal(drainState(state.rows, "f1"), "draining");
  d.start();
  await waitFor("m1 on its way", () => sending, 5_000);
  // Undrained while m1 is on its way: deliveries wait for the round.
  state.rows.delete(requestKey("f1"));
  d.update(state.rows);
  assert.equal(d.refusing(), false);
  assert.deepEqual(q.calls, ["pause", "pause"]);
  release();
  await waitFor("deliveries resumed", () => q.calls.includes("resume"), 5_000);
  await d.stop();
  assert.deepEqual(q.calls, ["pause", "pause", "handed m1 to f2", "resume"]);

  // Drained again: the queue is empty, so the answer row is written for this request.
  state.rows.set(requestKey("f1"), requestValue(900));
  const again = createDrainer({
    selfId: "f1",
    state,
    queue: q.queue,
    peers: () => peers,
    send: () => Promise.resolve({ ok: true, id: "x" }),
    clock,
    intervalMs: 1000,
    parallel: 4,
    log: memoryLogSink().for("QUEUE"),
  });
  await again.init();
  again.start();
  await waitFor("the answer row", () => drainState(state.rows, "f1") === "drained", 5_000);
  await again.stop();
  assert.equal(drainState(state.rows, "f1"), "drained");
  assert.equal(again.status().state, "drained");
});

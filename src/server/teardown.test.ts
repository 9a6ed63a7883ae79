// Teardown: newest first, every step tried; after a failed start errors are logged, at a stop the
// first is thrown once all have run; a second run does nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Teardown } from "./teardown.js";
import type { Log } from "../log/logger.js";

void test("steps run newest first, each once, and a failing step does not stop the others", async () => {
  const ran: string[] = [];
  const t = new Teardown();
  t.add(() => void ran.push("store"));
  t.add(() => {
    ran.push("queue");
    throw new Error("queue stuck");
  });
  t.add(async () => {
    await Promise.resolve();
    ran.push("listener");
  });
  await assert.rejects(t.run(), /queue stuck/);
  assert.deepEqual(ran, ["listener", "queue", "store"]);
  await t.run();
  assert.deepEqual(ran, ["listener", "queue", "store"], "a second run does nothing");
});

void test("with a log, a failed step is logged and the run resolves", async () => {
  const failures: string[] = [];
  // Only failure() is called by run().
  const log = { failure: (text: string, f: { error: string }) => failures.push(`${text}: ${f.error}`) };
  const t = new Teardown();
  t.add(() => Promise.reject(new Error("close failed")));
  await t.run(log as unknown as Log);
  assert.deepEqual(failures, ["cleanup after a failed start failed: Error: close failed"]);
});

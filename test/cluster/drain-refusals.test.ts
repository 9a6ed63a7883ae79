// `mailyard node drain` refused, exit 2 and nothing changed (issue 16 item 3): the last live
// frontend (no peer could take its queue), and a single server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mailyard } from "../cli/run-cli.js";
import { cli, greeting } from "./drain-kit.js";
import { startProcCluster } from "./processes-kit.js";

void test("drain is refused with exit 2 for the last live node of its role and for a single server", async (t) => {
  const c = await startProcCluster(t);
  await c.start("b1", "backend");
  const f1 = await c.start("f1", "frontend");
  await c.waitLive([f1], ["b1", "f1"]);
  const alone = await cli(c, ["node", "drain", "f1"]);
  assert.equal(alone.code, 2, alone.err);
  assert.match(alone.err, /no other live frontend that is not draining could take f1's queue/);
  assert.match((await greeting(f1.smtp)) ?? "", /^220 /, "nothing changed");

  const dir = await mkdtemp(join(tmpdir(), "mailyard-drain-single-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const single = await mailyard(["node", "drain", "mx1", "--set", `dataDir=${dir}`]);
  assert.equal(single.code, 2, single.err);
  assert.match(single.err, /a single server has no peers to hand its queue to: drain needs a cluster/);
});

// A dynamic backend starts only on the cluster's shared mailbox root (issue 16 item 4): the
// first backend marks the root (a marker file with the cluster id, recorded in the cluster
// state); a later backend whose local.mailDir lacks the marker, or holds another cluster's,
// refuses to start with a message naming the path, and `mailyard start` exits 2 having stored
// nothing; a backend on the shared root starts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkSharedMailRoot,
  clusterId,
  MailRootNotSharedError,
  MARKED_KEY,
  MARKER_FILE,
} from "../../src/cluster/shared-mailroot.js";
import { openSqliteClusterState } from "../../src/cluster/sqlite-state.js";
import { FakeClock } from "../kit/clock.js";
import { mailyard } from "../cli/run-cli.js";
import { SECRET, startProcCluster } from "./processes-kit.js";

void test("the first backend marks the root; a root without the marker, or another cluster's, is refused", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-mailroot-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const state = openSqliteClusterState(join(dir, "state.db"), new FakeClock());
  t.after(() => state.close());
  const shared = join(dir, "shared");
  const check = (root: string, secret = SECRET, nodeId = "b1") =>
    checkSharedMailRoot({ root, secret, nodeId, state });

  await check(shared);
  assert.equal(await readFile(join(shared, MARKER_FILE), "utf8"), `mailyard cluster ${clusterId(SECRET)}\n`);
  assert.match((await state.getSetting(MARKED_KEY)) ?? "", /^backend b1 at /);
  assert.doesNotMatch(await readFile(join(shared, MARKER_FILE), "utf8"), new RegExp(SECRET));
  await check(shared, SECRET, "b2");

  const own = join(dir, "own");
  await assert.rejects(
    check(own, SECRET, "b2"),
    (e: unknown) =>
      e instanceof MailRootNotSharedError &&
      e.message.includes(`local.mailDir ${own} is not shared with the other backends`) &&
      e.message.includes("backend b1"),
  );
  assert.deepEqual(await readdir(own).catch(() => []), [], "nothing written to the refused root");
  const other = "another-cluster-secret-0000000042";
  await assert.rejects(check(shared, other, "x1"), /belongs to another cluster/);
});

void test("mailyard start: a dynamic backend on its own mailbox root exits 2; on the shared root it starts", async (t) => {
  const c = await startProcCluster(t, ["cluster.kind=dynamic"]);
  const shared = join(c.root, "shared-mail");
  await c.start("b1", "backend", [`local.mailDir=${shared}`]);
  const sets = [
    `state.url=${c.stateUrl}`,
    `cluster.secret=${SECRET}`,
    "cluster.kind=dynamic",
    "role=backend",
    "node.id=b2",
    `dataDir=${join(c.root, "b2")}`,
    `local.mailDir=${join(c.root, "b2-own-mail")}`,
    "smtp.listen=127.0.0.1:0",
    "submission.listen=",
    "submissions.listen=",
    "pop3.listen=",
    "http.listen=127.0.0.1:0",
    "channel.listen=127.0.0.1:0",
  ];
  const refused = await mailyard(["start", ...sets.flatMap((s) => ["--set", s])]);
  assert.equal(refused.code, 2, refused.out + refused.err);
  assert.match(
    refused.err,
    /cannot start: local\.mailDir .*b2-own-mail is not shared with the other backends/,
  );
  assert.ok(!(await c.state.members()).some((m) => m.id === "b2"), "the refused backend never joined");

  const b2 = await c.start("b2", "backend", [`local.mailDir=${shared}`]);
  await c.waitLive([b2], ["b1", "b2"]);
});

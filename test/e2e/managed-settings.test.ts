// Managed settings on a running single server, over real sockets and the real state file: a
// value stored through the admin API applies live to the next SMTP session (recipient limit,
// relay networks); a restart key waits, shown as pending, and counts after a restart; a key the
// node was given by --set is not overridden; bad input is refused with the reason; the CLI
// stores, shows and removes values, and the running node picks its changes up by itself.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema } from "../../src/config/settings.js";
import type { ManagedEntry } from "../../src/config/managed.js";
import { startNode, type RunningNode } from "../../src/server/node.js";
import { mailyard } from "../cli/run-cli.js";
import { waitFor } from "../kit/load.js";
import { memoryLogSink } from "../kit/log.js";
import { SmtpClient } from "../kit/smtp-client.js";

type After = { after(fn: () => Promise<void>): void };

async function single(t: After, dataDir: string, pinned?: Set<string>) {
  const settings = settingsSchema.parse({
    dataDir,
    hostname: "mx.example.test",
    smtp: { listen: ["127.0.0.1:0"] },
    submission: { listen: [] },
    submissions: { listen: [] },
    pop3: { listen: [] },
    http: { listen: "127.0.0.1:0" },
    log: { stdout: false },
  });
  const node: RunningNode = await startNode(settings, {
    log: memoryLogSink(),
    ...(pinned ? { pinned } : {}),
  });
  let stopped = false;
  const stop = async () => {
    if (!stopped) await node.stop();
    stopped = true;
  };
  t.after(stop);
  const token = (await readFile(join(dataDir, "admin.token"), "utf8")).trim();
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`http://127.0.0.1:${node.http.port}/api/${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  const entry = async (key: string): Promise<ManagedEntry> => {
    const r = await api("GET", "settings");
    return (r.body["managed"] as ManagedEntry[]).find((e) => e.key === key)!;
  };
  /** The replies to EHLO, MAIL and each RCPT of one session. */
  const rcpts = async (to: string[]): Promise<number[]> => {
    const c = await SmtpClient.connect(node.smtp[0]!.port);
    try {
      await c.expect(220);
      await c.cmd("EHLO client.test", 250);
      await c.cmd("MAIL FROM:<a@client.test>", 250);
      const codes: number[] = [];
      for (const r of to) codes.push((await c.cmd(`RCPT TO:<${r}>`)).code);
      await c.cmd("QUIT");
      return codes;
    } finally {
      c.close();
    }
  };
  return { node, api, entry, rcpts, stop };
}

void test("managed settings: stored through the API, live or at restart; pinned keys win; bad input refused", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-managed-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  let n = await single(t, dataDir);
  const remote = ["a@remote.test", "b@remote.test", "c@remote.test"];
  assert.deepEqual(await n.rcpts(remote), [250, 250, 250]);

  const put = await n.api("PUT", "config", { key: "smtp.maxRecipients", value: 2 });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.equal(put.body["applies"], "live");
  assert.deepEqual(await n.rcpts(remote), [250, 250, 452], "the next session has the new limit");
  assert.equal((await n.entry("smtp.maxRecipients")).source, "cluster");

  // Relay networks: 127.0.0.1 no longer relays, at once.
  assert.equal(
    (await n.api("PUT", "config", { key: "smtp.relayNetworks", value: ["10.0.0.0/8"] })).status,
    200,
  );
  assert.deepEqual(await n.rcpts(["a@remote.test"]), [554]);
  assert.equal((await n.api("PUT", "config", { key: "smtp.relayNetworks", value: null })).status, 200);
  assert.deepEqual(await n.rcpts(["a@remote.test"]), [250], "removed: the config's networks again");

  // A restart key is stored and shown as pending; the node still runs with the old value.
  const self = String((await n.api("GET", "settings")).body["node"]);
  const fwd = await n.api("PUT", "config", {
    key: "smtp.forwardTo",
    node: self,
    value: ["relay.example.test:2525"],
  });
  assert.equal(fwd.status, 200, JSON.stringify(fwd.body));
  assert.equal(fwd.body["applies"], "restart");
  const pending = await n.entry("smtp.forwardTo");
  assert.deepEqual(pending.value, []);
  assert.deepEqual(pending.node, ["relay.example.test:2525"]);
  assert.equal(pending.pending, true);

  // Refusals name the reason; nothing is stored.
  const bad = async (body: unknown, status: number, re: RegExp) => {
    const r = await n.api("PUT", "config", body);
    assert.equal(r.status, status, JSON.stringify(body));
    assert.match(String(r.body["error"]), re);
  };
  await bad({ key: "state.url", value: "postgres://x" }, 400, /not a setting managed here/);
  await bad({ key: "smtp.maxRecipients", value: "many" }, 400, /invalid value for smtp.maxRecipients/);
  await bad({ key: "smtp.relayNetworks", value: ["10.0.0.0/40"] }, 400, /bad prefix length/);
  await bad({ key: "smtp.forwardTo", value: ["*"] }, 400, /per backend, not cluster-wide/);
  await bad({ key: "smtp.maxRecipients", node: "nobody", value: 5 }, 404, /no member nobody/);
  await bad({ key: "smtp.maxRecipients" }, 400, /value \(JSON\) or text: required/);
  await bad({ key: "smtp.maxRecipients", text: "many" }, 400, /expected a number/);
  await bad({ key: "dataDir", text: "/tmp" }, 400, /not a setting managed here/);
  // As text, the way the environment and `settings set` write it: lists comma-separated.
  const asText = await n.api("PUT", "config", { key: "queue.delayWarningSeconds", text: "600, 3600" });
  assert.deepEqual(asText.body["value"], [600, 3600]);
  assert.deepEqual(await n.rcpts(remote), [250, 250, 452], "the limit stored before still holds");

  // After a restart the stored restart key is in effect; the stored live key still is.
  await n.stop();
  n = await single(t, dataDir);
  const after = await n.entry("smtp.forwardTo");
  assert.deepEqual(after.value, ["relay.example.test:2525"]);
  assert.equal(after.pending, false);
  assert.equal((await n.entry("smtp.maxRecipients")).value, 2);
  await n.stop();

  // Given by --set (pinned): the stored value does not override it.
  n = await single(t, dataDir, new Set(["smtp.maxRecipients"]));
  const pinned = await n.entry("smtp.maxRecipients");
  assert.equal(pinned.value, 1000);
  assert.equal(pinned.source, "environment or --set");
  assert.deepEqual(await n.rcpts(remote), [250, 250, 250]);
});

void test("mailyard settings set|get|unset for a managed key; the running node follows the state file", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-managed-cli-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const n = await single(t, dataDir);
  const sets = ["--set", `dataDir=${dataDir}`];
  const set = await mailyard(["settings", "set", "queue.delayWarningSeconds", "3600,14400", ...sets]);
  assert.equal(set.code, 0, set.err);
  assert.match(set.out, /queue.delayWarningSeconds = \[3600,14400\] \(applies live\)/);
  await waitFor(
    "the node applied the CLI's change",
    async () => JSON.stringify((await n.entry("queue.delayWarningSeconds")).value) === "[3600,14400]",
    10_000,
  );
  const got = await mailyard(["settings", "get", "queue.delayWarningSeconds", ...sets]);
  assert.match(got.out, /^queue.delayWarningSeconds = \[3600,14400\]$/m);

  const badValue = await mailyard(["settings", "set", "queue.maxConcurrency", "lots", ...sets]);
  assert.equal(badValue.code, 1);
  assert.match(badValue.err, /settings set: invalid value for queue.maxConcurrency/);
  const notManaged = await mailyard(["settings", "set", "dataDir", "/tmp", ...sets]);
  assert.equal(notManaged.code, 2);
  assert.match(notManaged.err, /unknown key dataDir/);

  const unset = await mailyard(["settings", "unset", "queue.delayWarningSeconds", ...sets]);
  assert.equal(unset.code, 0, unset.err);
  await waitFor(
    "the node is back on its config",
    async () => (await n.entry("queue.delayWarningSeconds")).source === "config",
    10_000,
  );
  assert.match(
    (await mailyard(["settings", "get", "queue.delayWarningSeconds", ...sets])).out,
    /nothing stored/,
  );
});

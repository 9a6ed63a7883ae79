// Remote Queue Processing (seed; DESIGN.md §2.4): with Submit Messages = Remotely a backend hands
// the messages it generates to a live member that is Locally for Others over XSUBMIT on that
// member's SMTP port, and queues them itself when no member takes them. In-process nodes with
// the real wiring, real sockets, Postfix's smtp-sink as the Internet, one shared fake clock.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import net from "node:net";
import { join } from "node:path";
import { proof } from "../../src/cluster/secret.js";
import type { EnvelopeDraft } from "../../src/queue/types.js";
import { LEVELS } from "../../src/log/logger.js";
import { mailyard } from "../cli/run-cli.js";
import { waitFor } from "../kit/load.js";
import { startSink } from "../kit/sink.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { addAccounts, SECRET, startCluster, waitForMail, type Cluster } from "./fixtures.js";

const draft = (to: readonly string[], source: EnvelopeDraft["source"] = "api"): EnvelopeDraft => ({
  returnPath: "alice@example.test",
  recipients: to.map((address) => ({ address, original: null, notify: null, orcpt: null })),
  ret: null,
  envid: null,
  body: "8BITMIME",
  smtputf8: false,
  source,
  authUser: "alice@example.test",
  client: null,
  arrival: Date.now(),
});
const message = (subject: string): Buffer =>
  Buffer.from(`From: <alice@example.test>\r\nSubject: ${subject}\r\n\r\nHello.\r\n`);

const submitRecords = (c: Cluster, id: string) => c.logs.get(id)!.records.filter((r) => r.tag === "SUBMIT");

async function remoteCluster(t: Parameters<typeof startCluster>[0], sinkPort: number, submitLog = "low") {
  const c = await startCluster(t, [
    {
      id: "f1",
      role: "frontend",
      extra: {
        smtp: { forwardTo: [`127.0.0.1:${sinkPort}`] },
        cluster: { submitMessages: "Locally for Others", submitLog },
      },
    },
    {
      id: "b1",
      role: "backend",
      extra: { smtp: { forwardTo: ["*"] }, cluster: { submitMessages: "Remotely", submitLog } },
    },
  ]);
  await addAccounts(c, { "alice@example.test": "b1", "bob@example.test": "b1" });
  return c;
}

test("Remotely: the backend's queue stays empty, the Locally for Others frontend relays and delivers, SUBMIT says where", async (t) => {
  const sink = await startSink();
  t.after(() => sink.stop());
  const c = await remoteCluster(t, sink.port);
  const b1 = c.node("b1");
  assert.equal(b1.submitView.mode(), "Remotely");
  assert.deepEqual(
    b1.submitView.offering().map((m) => m.id),
    ["f1"],
  );

  const out = await b1.submitter.submit(draft(["dave@remote.test"]), message("to the Internet"));
  assert.ok(out.ok && out.remote && out.node === "f1", JSON.stringify(out));
  assert.equal(b1.queue.size(), 0, "nothing queued on the backend");
  await waitFor("relayed by f1 to smtp-sink", async () => (await sink.count()) === 1);
  const [relayed = ""] = await sink.messages();
  assert.match(relayed, /Subject: to the Internet/);

  // A local recipient: f1 queues it and hands it back over the delivery channel.
  const local = await b1.submitter.submit(draft(["bob@example.test"]), message("for bob"));
  assert.ok(local.ok && local.remote, JSON.stringify(local));
  const [stored = ""] = await waitForMail(c, "b1", "bob@example.test");
  assert.match(stored, /Subject: for bob/);
  assert.equal(b1.queue.size(), 0);

  // SUBMIT records on both sides: where each message went, and what the receiver queued.
  const sent = submitRecords(c, "b1").filter((r) => r.text === "submitted remotely");
  assert.equal(sent.length, 2);
  assert.equal(sent[0]!.fields["to"], "f1");
  assert.equal(sent[0]!.fields["source"], "api");
  assert.equal(sent[0]!.level, LEVELS.low);
  const got = submitRecords(c, "f1").filter((r) => r.text === "remote submission queued");
  assert.deepEqual(
    got.map((r) => [r.fields["from"], r.fields["source"]]),
    [
      ["b1", "api"],
      ["b1", "api"],
    ],
  );
});

test("Remote Submit Log: records below the configured level are not written", async (t) => {
  const sink = await startSink();
  t.after(() => sink.stop());
  const c = await remoteCluster(t, sink.port, "problem");
  const b1 = c.node("b1");
  const out = await b1.submitter.submit(draft(["dave@remote.test"]), message("quiet"));
  assert.ok(out.ok && out.remote);
  assert.deepEqual(submitRecords(c, "b1"), [], "success is Low Level: not at Problems");

  // Live change through the admin API (what the CLI and the WebAdmin use): All Info on b1.
  const r = await fetch(`http://127.0.0.1:${c.node("f1").http.port}/api/cluster/submit`, {
    method: "PUT",
    headers: { authorization: `Bearer ${await adminToken(c, "f1")}`, "content-type": "application/json" },
    body: JSON.stringify({ node: "b1", submitLog: "all" }),
  });
  assert.equal(r.status, 200, await r.clone().text());
  const snap = (await r.json()) as { members: { id: string; submitLog: string; effective: string }[] };
  assert.equal(snap.members.find((m) => m.id === "b1")?.submitLog, "all");
  assert.equal(snap.members.find((m) => m.id === "b1")?.effective, "Remotely");
  await c.refreshAll();
  await b1.submitter.submit(draft(["dave@remote.test"]), message("loud"));
  const texts = submitRecords(c, "b1").map((r) => r.text);
  assert.ok(texts.includes("remote submit: sending"), texts.join("|"));
  assert.ok(texts.includes("submitted remotely"), texts.join("|"));
  await waitFor("both relayed", async () => (await sink.count()) === 2);
});

async function adminToken(c: Cluster, id: string): Promise<string> {
  return (await readFile(join(c.root, id, "admin.token"), "utf8")).trim();
}

test("fallback: with every Locally for Others member stopped, submitted mail is queued locally and delivered later", async (t) => {
  const sink = await startSink();
  t.after(() => sink.stop());
  const c = await remoteCluster(t, sink.port);
  await c.stop("f1");
  await c.refreshAll();
  const b1 = c.node("b1");
  assert.deepEqual(b1.submitView.offering(), []);
  const remote = await b1.submitter.submit(draft(["dave@remote.test"]), message("waits for a frontend"));
  const local = await b1.submitter.submit(draft(["bob@example.test"]), message("stays here"));
  assert.ok(remote.ok && !remote.remote && remote.node === "b1");
  assert.ok(local.ok && !local.remote);
  assert.ok(
    submitRecords(c, "b1").some((r) => r.text === "no member is Locally for Others, submitting locally"),
  );
  // The local recipient is delivered by b1 itself; the remote one waits in b1's queue for "*".
  await waitForMail(c, "b1", "bob@example.test");
  // The delivered one leaves the queue just after its file lands.
  await waitFor("only the remote message left in b1's queue", () => b1.queue.size() === 1);
  assert.equal(await sink.count(), 0, "nothing relayed while no frontend is up");
  // A frontend comes back: b1's queue relays through it.
  await c.start({ id: "f1", role: "frontend", extra: { smtp: { forwardTo: [`127.0.0.1:${sink.port}`] } } });
  await c.passTime(10 * 60_000, async () => (await sink.count()) === 1);
  await waitFor("b1's queue empty", () => b1.queue.size() === 0);
});

test("fallback: a transfer cut mid-way leaves nothing on the member and the message is queued locally", async (t) => {
  const sink = await startSink();
  t.after(() => sink.stop());
  const c = await remoteCluster(t, sink.port);
  // A member that dies mid-transfer: "cut" registers as a Locally for Others frontend whose SMTP
  // address is a relay to f1 that drops both sides once the XSUBMIT bytes have started.
  const f1Port = c.node("f1").smtp[0]!.port;
  const cut = await startCuttingRelay(f1Port);
  t.after(() => cut.close());
  await c.state.register({
    id: "cut",
    role: "frontend",
    smtp: `127.0.0.1:${cut.port}`,
    http: "127.0.0.1:1",
    channel: null,
    submitMessages: "Locally for Others",
    startedAt: c.clock.now(),
  });
  await c.state.setSetting("cluster.submitMessages@f1", "Locally");
  await c.refreshAll();
  const b1 = c.node("b1");
  assert.deepEqual(
    b1.submitView.offering().map((m) => m.id),
    ["cut"],
  );
  const body = Buffer.concat([message("cut off"), Buffer.alloc(200_000, "x")]);
  const r = await b1.submitter.submit(draft(["bob@example.test"]), body);
  assert.ok(r.ok && !r.remote && r.node === "b1", JSON.stringify(r));
  assert.ok(cut.cuts() >= 1, "the relay cut a transfer");
  assert.equal(c.node("f1").queue.size(), 0, "no partial message on the member");
  const failed = submitRecords(c, "b1").filter((x) => x.text === "remote submit failed");
  assert.equal(failed.length, 1);
  assert.equal(failed[0]!.fields["to"], "cut");
  const [stored = ""] = await waitForMail(c, "b1", "bob@example.test");
  assert.match(stored, /Subject: cut off/);
  assert.equal((await c.mailbox("b1", "bob@example.test")).length, 1, "delivered once");
});

/** A TCP relay to `port` that destroys both sockets once the client has sent "XSUBMIT" and 1 KB more. */
async function startCuttingRelay(port: number) {
  let cuts = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const up = net.connect({ host: "127.0.0.1", port });
    for (const s of [client, up]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => undefined);
    }
    let seen = "";
    let at = -1;
    client.on("data", (d: Buffer) => {
      seen += d.toString("latin1");
      if (at < 0) at = seen.indexOf("XSUBMIT ");
      if (at >= 0 && seen.length - at > 1024) {
        cuts++;
        up.write(d.subarray(0, 16));
        client.destroy();
        up.destroy();
        return;
      }
      up.write(d);
    });
    up.pipe(client);
    client.on("close", () => up.destroy());
    up.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cuts: () => cuts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

test("XSUBMIT is refused to a client that is not an authenticated member, and offered once XMEMBER passed", async (t) => {
  const sink = await startSink();
  t.after(() => sink.stop());
  const c = await remoteCluster(t, sink.port);
  const port = c.node("f1").smtp[0]!.port;

  const stranger = await SmtpClient.connect(port);
  try {
    await stranger.expect(220);
    const ehlo = await stranger.cmd("EHLO client.test", 250);
    assert.ok(!ehlo.lines.some((l) => /XSUBMIT/i.test(l)), "not offered before XMEMBER");
    const refused = await stranger.cmd("XSUBMIT 10 10");
    assert.equal(refused.code, 530);
  } finally {
    stranger.close();
  }

  const guesser = await SmtpClient.connect(port);
  try {
    await guesser.expect(220);
    await guesser.cmd("EHLO client.test", 250);
    const challenge = await guesser.cmd("XMEMBER b1", 334);
    const nonce = challenge.lines.join("").replace(/^334 /, "").trim();
    // Right form, wrong secret.
    const bad = await guesser.cmd(proof("not-the-cluster-secret-at-all", "submit", nonce, "b1"));
    assert.equal(bad.code, 535);
    // A proof made for the delivery channel is no good here either.
    await guesser.cmd("XMEMBER b1", 334);
    assert.equal((await guesser.cmd(proof(SECRET, "lmtp", nonce, "b1"))).code, 535);
  } finally {
    guesser.close();
  }

  const member = await SmtpClient.connect(port);
  let captured: string;
  try {
    await member.expect(220);
    await member.cmd("EHLO b1.cluster.test", 250);
    const challenge = await member.cmd("XMEMBER b1", 334);
    const nonce = challenge.lines.join("").replace(/^334 /, "").trim();
    captured = proof(SECRET, "submit", nonce, "b1");
    await member.cmd(captured, 235);
    const ehlo = await member.cmd("EHLO b1.cluster.test", 250);
    assert.ok(
      ehlo.lines.some((l) => /XSUBMIT/.test(l)),
      ehlo.lines.join("|"),
    );
  } finally {
    member.close();
  }
  // A captured proof replayed on another connection meets another nonce (issue 15, item 6).
  const replayer = await SmtpClient.connect(port);
  try {
    await replayer.expect(220);
    await replayer.cmd("EHLO client.test", 250);
    await replayer.cmd("XMEMBER b1", 334);
    assert.equal((await replayer.cmd(captured)).code, 535);
    assert.equal((await replayer.cmd("XSUBMIT 10 10")).code, 530);
  } finally {
    replayer.close();
  }
  assert.equal(c.node("f1").queue.size(), 0);
});

test("default resolves live in a dynamic cluster: frontend Locally for Others, backend Remotely only while one exists", async (t) => {
  const c = await startCluster(t, [
    { id: "f1", role: "frontend", extra: { cluster: { kind: "dynamic" } } },
    { id: "b1", role: "backend", extra: { cluster: { kind: "dynamic" } } },
  ]);
  assert.equal(c.node("f1").submitView.mode(), "Locally for Others");
  assert.equal(c.node("b1").submitView.mode(), "Remotely");
  // The frontend is set to Locally: no member is Locally for Others, so b1 is Locally.
  const changed = await c.node("b1").submitView.change({ node: "f1", submitMessages: "Locally" });
  assert.ok(!("error" in changed));
  await c.refreshAll();
  assert.equal(c.node("f1").submitView.mode(), "Locally");
  assert.equal(c.node("b1").submitView.mode(), "Locally");
  // Back to default, then the frontend stops: b1 falls back to Locally as well.
  await c.node("b1").submitView.change({ node: "f1", submitMessages: "default" });
  await c.refreshAll();
  assert.equal(c.node("b1").submitView.mode(), "Remotely");
  await c.stop("f1");
  await c.refreshAll();
  assert.equal(c.node("b1").submitView.mode(), "Locally");
  const bad = await c.node("b1").submitView.change({ node: "nope", submitMessages: "Locally" });
  assert.ok("error" in bad && /not a member/.test(bad.error));
});

test("SMTP submission on a Remotely backend (swaks, AUTH) goes out through the Locally for Others frontend", async (t) => {
  const sink = await startSink();
  t.after(() => sink.stop());
  const c = await startCluster(t, [
    {
      id: "f1",
      role: "frontend",
      extra: {
        smtp: { forwardTo: [`127.0.0.1:${sink.port}`] },
        cluster: { submitMessages: "Locally for Others" },
      },
    },
    {
      id: "b1",
      role: "backend",
      extra: {
        smtp: { forwardTo: ["*"], authRequiresTls: false },
        submission: { listen: ["127.0.0.1:0"] },
        submissions: { listen: [] },
        cluster: { submitMessages: "Remotely", submitLog: "low" },
      },
    },
  ]);
  await addAccounts(c, { "alice@example.test": "b1" });
  const port = c.node("b1").submission[0]!.port;
  const r = await swaks([
    "--server",
    `127.0.0.1:${port}`,
    "--auth",
    "PLAIN",
    "--auth-user",
    "alice@example.test",
    "--auth-password",
    "alice@example.test-pw",
    "--from",
    "alice@example.test",
    "--to",
    "dave@remote.test",
    "--header",
    "Subject: submitted on a backend",
  ]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /250 2\.0\.0 OK queued as \S+ on f1/);
  await waitFor("relayed by f1", async () => (await sink.count()) === 1);
  assert.match((await sink.messages())[0] ?? "", /Subject: submitted on a backend/);
  assert.equal(c.node("b1").queue.size(), 0);
  const sent = submitRecords(c, "b1").find((x) => x.text === "submitted remotely");
  assert.equal(sent?.fields["source"], "submission");
});

function swaks(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("swaks", ["--timeout", "20", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? -1, out }));
  });
}

test("mailyard settings get|set changes Submit Messages and Remote Submit Log live, and refuses bad values", async (t) => {
  const sink = await startSink();
  t.after(() => sink.stop());
  const c = await remoteCluster(t, sink.port);
  const env = { MAILYARD_STATE_URL: join(c.root, "state.db") };
  const set = await mailyard(["settings", "set", "cluster.submitMessages", "Locally", "--node", "b1"], env);
  assert.equal(set.code, 0, set.err);
  await c.refreshAll();
  assert.equal(c.node("b1").submitView.mode(), "Locally");
  const out = await c.node("b1").submitter.submit(draft(["dave@remote.test"]), message("kept here"));
  assert.ok(out.ok && !out.remote);

  assert.equal((await mailyard(["settings", "set", "cluster.submitLog", "all"], env)).code, 0);
  await c.refreshAll();
  const got = await mailyard(["settings", "get", "--json"], env);
  assert.equal(got.code, 0, got.err);
  const snap = JSON.parse(got.out) as {
    default: { submitLog: string };
    members: { id: string; effective: string; submitLog: string }[];
  };
  assert.equal(snap.default.submitLog, "all");
  assert.deepEqual(
    snap.members.map((m) => [m.id, m.effective, m.submitLog]),
    [
      ["b1", "Locally", "all"],
      ["f1", "Locally for Others", "all"],
    ],
  );
  const one = await mailyard(["settings", "get", "cluster.submitMessages", "--node", "b1"], env);
  assert.equal(one.out.trim(), "cluster.submitMessages = Locally (in effect: Locally)");

  const bad = await mailyard(["settings", "set", "cluster.submitMessages", "Sometimes"], env);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /submitMessages must be one of/);
  const unknownNode = await mailyard(["settings", "set", "cluster.submitLog", "all", "--node", "zz"], env);
  assert.equal(unknownNode.code, 1);
  assert.match(unknownNode.err, /zz.*not a member/);
  // Neither Queue Processing nor a managed setting (CONFIG.md § Managed settings).
  const unknownKey = await mailyard(["settings", "get", "state.url"], env);
  assert.equal(unknownKey.code, 2);
  assert.match(unknownKey.err, /unknown key state\.url/);
});

// Cluster TLS (issue 18 item 1) on a real cluster made by `mailyard cluster up`: every link
// between members is mutual TLS against the cluster CA, and each refuses a peer without a member
// certificate, with one from another CA, or with a valid one naming another node than it claims:
// the delivery channel, the cluster API, admin forwarding, the XMEMBER handshake of remote
// submit and shadow copies, and `*` relaying (authenticated by certificate, not by IP: the
// frontend trusts no network here). One delivery's loopback traffic, through a TCP proxy this
// test puts between the frontend and the backend's channel, holds no message text. A renewed
// member certificate is loaded without a restart, and the CA is rotated with old and new trusted
// during the change.
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { copyFile, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import Database from "better-sqlite3";
import { signRequest } from "../../src/cluster/api/auth.js";
import { authCommand, nonceOf } from "../../src/cluster/channel/auth.js";
import { memberProof } from "../../src/cluster/submit/wire.js";
import { initCa, issueMember } from "../../src/cluster/tls/ca.js";
import { MEMBER_SNI } from "../../src/cluster/tls/names.js";
import { waitFor } from "../kit/load.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { mailyard } from "../cli/run-cli.js";

interface Member {
  id: string;
  pid: number;
  smtp: number;
  http: number;
  channel: number | null;
  dataDir: string;
  log: string;
}

interface Creds {
  cert: string;
  key: string;
  ca: string;
}

const creds = async (dir: string): Promise<Creds> => ({
  cert: await readFile(join(dir, "member.pem"), "utf8"),
  key: await readFile(join(dir, "member.key"), "utf8"),
  ca: await readFile(join(dir, "cluster-ca.pem"), "utf8"),
});

const clientTls = (c: Creds | null): tls.ConnectionOptions => ({
  ...(c === null ? {} : { cert: c.cert, key: c.key }),
  rejectUnauthorized: false,
  servername: MEMBER_SNI,
});

/** A TLS session from the first byte to `port`: the socket, or why the handshake or peer failed. */
function tlsTo(port: number, c: Creds | null): Promise<tls.TLSSocket | string> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: "127.0.0.1", port, ...clientTls(c) });
    s.once("secureConnect", () => resolve(s));
    s.once("error", (e: Error) => resolve(e.message));
  });
}

/** The delivery channel: greeting read, LHLO, AUTH as `as`; the AUTH reply code, or why none. */
async function channelAuth(
  port: number,
  c: Creds | null,
  as: string,
  secret: string,
): Promise<number | string> {
  const s = await tlsTo(port, c);
  if (typeof s === "string") return s;
  const client = SmtpClient.over(s);
  try {
    // A refused certificate is noticed by the server after the client's handshake (TLS 1.3).
    const greeting = await client.reply(5000);
    if (greeting === null) return "closed before the greeting";
    await client.cmd("LHLO f.test", 250);
    client.send(authCommand(secret, nonceOf(greeting.lines.join(" ")) ?? "", as));
    return (await client.reply(5000))?.code ?? "closed";
  } finally {
    client.close();
  }
}

/** A signed POST (cluster API or admin forward) from `as` to `to`; the status, or why none. */
function signedPost(
  port: number,
  path: string,
  o: { secret: string; as: string; to: string; creds: Creds | null; plain?: boolean },
  method = "POST",
  body = method === "POST" ? JSON.stringify({ address: "bob@example.test" }) : "",
): Promise<number | string> {
  const headers = {
    ...signRequest(o.secret, o.as, o.to, method, path, Date.now(), body),
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
  };
  return new Promise((resolve) => {
    const req =
      o.plain === true
        ? http.request({ host: "127.0.0.1", port, path, method, headers })
        : https.request({
            host: "127.0.0.1",
            port,
            path,
            method,
            headers,
            agent: false,
            ...clientTls(o.creds),
          });
    req.once("error", (e) => resolve(e.message));
    req.once("response", (res) => {
      res.resume();
      res.once("end", () => resolve(res.statusCode ?? 0));
    });
    req.end(body);
  });
}

/** XMEMBER on a member's SMTP port (remote submit, shadow copies): the reply to the verb. */
async function xmember(
  port: number,
  c: Creds | null | "no-tls",
  as: string,
  secret: string,
): Promise<number | string> {
  const client = await SmtpClient.connect(port);
  try {
    await client.expect(220);
    await client.cmd("EHLO m.test", 250);
    if (c !== "no-tls") {
      await client.cmd("STARTTLS", 220);
      await client.startTls(clientTls(c)).catch((e: Error) => e.message);
      const again = await client.cmd("EHLO m.test");
      if (again.code !== 250) return `EHLO after TLS: ${again.code}`;
    }
    const r = await client.cmd(`XMEMBER ${as}`);
    if (r.code !== 334) return r.code;
    const proof = await client.cmd(memberProof(secret, r.lines.join("").trim(), as));
    return proof.code;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    client.close();
  }
}

/** RCPT for a remote address on the frontend's SMTP port, as a client with certificate `c`. */
async function relayRcpt(port: number, c: Creds | null): Promise<number> {
  const client = await SmtpClient.connect(port);
  try {
    await client.expect(220);
    await client.cmd("EHLO b.test", 250);
    if (c !== null) {
      await client.cmd("STARTTLS", 220);
      await client.startTls(clientTls(c));
      await client.cmd("EHLO b.test", 250);
    }
    await client.cmd("MAIL FROM:<bob@example.test>", 250);
    return (await client.cmd("RCPT TO:<someone@remote.test>")).code;
  } finally {
    client.close();
  }
}

async function sendMail(port: number, to: string, text: string): Promise<void> {
  const c = await SmtpClient.connect(port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    await c.cmd("MAIL FROM:<someone@remote.test>", 250);
    await c.cmd(`RCPT TO:<${to}>`, 250);
    await c.cmd("DATA", 354);
    await c.cmd(`Subject: ${text}\r\n\r\n${text}\r\n.`, 250);
    await c.cmd("QUIT", 221);
  } finally {
    c.close();
  }
}

/** A TCP proxy that keeps every byte both ways. */
async function recordingProxy(
  target: number,
): Promise<{ port: number; bytes: () => Buffer; close(): Promise<void> }> {
  const seen: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const up = net.connect({ host: "127.0.0.1", port: target });
    for (const [from, to] of [
      [client, up],
      [up, client],
    ] as const) {
      sockets.add(from);
      from.on("error", () => undefined);
      from.on("data", (d: Buffer) => {
        seen.push(d);
        to.write(d);
      });
      from.on("close", () => to.destroy());
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    bytes: () => Buffer.concat(seen),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const count = (text: string, what: string): number => text.split(what).length - 1;

test(
  "cluster up: mutual TLS on every member link, refusals, no clear text, reload, CA rotation",
  { timeout: 300_000 },
  async (t) => {
    const parent = await mkdtemp(join(tmpdir(), "mailyard-cluster-tls-"));
    const dir = join(parent, "cluster");
    t.after(async () => {
      await mailyard(["cluster", "down", "--data", dir]);
      if (process.env["KEEP"] === undefined) await rm(parent, { recursive: true, force: true });
    });
    // The members look at their tls/ files every second here (the default is a minute).
    const env = { MAILYARD_CLUSTER_TLSRELOADSECONDS: "1", MAILYARD_LOG_LEVEL: "3" };
    const upRun = await mailyard(
      ["cluster", "up", "--frontends", "1", "--backends", "2", "--data", dir],
      env,
    );
    assert.equal(upRun.code, 0, upRun.err);
    const up = JSON.parse(upRun.out) as { members: Member[] };
    const m = (id: string): Member => up.members.find((x) => x.id === id)!;
    const [f1, b1, b2] = [m("f1"), m("b1"), m("b2")];
    const secret = (await readFile(join(dir, "cluster.secret"), "utf8")).trim();
    const caDir = join(dir, "ca");
    const tlsOf = (x: Member): string => join(x.dataDir, "tls");
    const logOf = (x: Member): Promise<string> => readFile(x.log, "utf8");

    // Where the CA key is: in DIR/ca only, never in a member's tls/.
    for (const x of [f1, b1, b2]) {
      assert.deepEqual(
        (await readdir(tlsOf(x))).filter((n) => n.startsWith("cluster-ca")),
        ["cluster-ca.pem"],
      );
      const cert = new X509Certificate(await readFile(join(tlsOf(x), "member.pem")));
      assert.match(cert.subject, new RegExp(`^CN=${x.id}$`, "m"));
      assert.match(cert.subjectAltName ?? "", new RegExp(`DNS:${x.id}\\.mailyard\\.cluster`));
    }

    const via = ["--set", `dataDir=${f1.dataDir}`, "--set", `http.listen=127.0.0.1:${f1.http}`];
    assert.equal((await mailyard(["domain", "add", "example.test", ...via])).code, 0);
    const added = await mailyard([
      "account",
      "add",
      "bob@example.test",
      "--password",
      "pw",
      "--home",
      "b1",
      ...via,
    ]);
    assert.equal(added.code, 0, added.err);

    const asF1 = await creds(tlsOf(f1));
    const asB1 = await creds(tlsOf(b1));
    // Another CA's certificate for b1, and a real CA's for a node that is no member.
    const otherCa = join(parent, "other-ca");
    await initCa(otherCa);
    await issueMember(otherCa, "b1", join(parent, "other-b1"));
    const foreign = await creds(join(parent, "other-b1"));
    await issueMember(caDir, "x9", join(parent, "x9"));
    const stranger = await creds(join(parent, "x9"));

    await t.test("delivery channel", async () => {
      const port = b1.channel!;
      assert.equal(await channelAuth(port, asF1, "f1", secret), 235, "f1 with its own certificate");
      for (const [what, c] of [
        ["no certificate", null],
        ["another CA", foreign],
      ] as const)
        assert.equal(typeof (await channelAuth(port, c, "f1", secret)), "string", what);
      assert.equal(await channelAuth(port, asF1, "b2", secret), 535, "f1's certificate claiming b2");
      assert.equal(await channelAuth(port, stranger, "x9", secret), 235, "any CA member may deliver");
      // Clear text gets no greeting: the listener speaks TLS only.
      const plain = await SmtpClient.connect(port);
      plain.send("LHLO f.test\r\n");
      assert.equal(await plain.reply(3000), null);
      plain.close();
    });

    await t.test("cluster API", async () => {
      const path = "/cluster/v1/lookup";
      const base = { secret, as: "f1", to: "b1" };
      assert.equal(await signedPost(b1.http, path, { ...base, creds: asF1 }), 200);
      assert.equal(
        typeof (await signedPost(b1.http, path, { ...base, creds: null })),
        "string",
        "no certificate",
      );
      assert.equal(
        typeof (await signedPost(b1.http, path, { ...base, creds: foreign })),
        "string",
        "another CA",
      );
      assert.equal(
        await signedPost(b1.http, path, { ...base, as: "b2", creds: asF1 }),
        401,
        "another node's claim",
      );
      assert.equal(await signedPost(b1.http, path, { ...base, creds: null, plain: true }), 401, "clear HTTP");
      // People and scrapers still speak plain HTTP on the same listener.
      assert.equal((await fetch(`http://127.0.0.1:${b1.http}/healthz`)).status, 200);
    });

    await t.test("admin forwarding", async () => {
      const path = "/api/queue";
      const base = { secret, as: "b1", to: "f1" };
      assert.equal(await signedPost(f1.http, path, { ...base, creds: asB1 }, "GET"), 200);
      assert.equal(typeof (await signedPost(f1.http, path, { ...base, creds: null }, "GET")), "string");
      assert.equal(typeof (await signedPost(f1.http, path, { ...base, creds: foreign }, "GET")), "string");
      assert.equal(
        await signedPost(f1.http, path, { ...base, creds: asF1 }, "GET"),
        401,
        "f1's certificate as b1",
      );
      assert.equal(
        await signedPost(f1.http, path, { ...base, creds: null, plain: true }, "GET"),
        401,
        "clear",
      );
      // The whole cluster's queue through f1, which forwards to each member over member TLS.
      const token = (await readFile(join(f1.dataDir, "admin.token"), "utf8")).trim();
      const res = await fetch(`http://127.0.0.1:${f1.http}/api/nodes/b2/queue`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(res.status, 200, await res.text());
    });

    await t.test("remote submit and shadow links (XMEMBER)", async () => {
      // f1 takes remote submissions; b2 takes b1's shadow copies (peers of a role).
      for (const [target, peer, own] of [
        [f1, "b1", asB1],
        [b2, "b1", asB1],
      ] as const) {
        assert.equal(await xmember(target.smtp, own, peer, secret), 235, `${peer} to ${target.id}`);
        assert.equal(await xmember(target.smtp, "no-tls", peer, secret), 530, "no TLS");
        assert.equal(await xmember(target.smtp, null, peer, secret), 530, "TLS without a certificate");
        assert.equal(await xmember(target.smtp, foreign, peer, secret), 530, "another CA");
        assert.equal(await xmember(target.smtp, asF1, peer, secret), 530, "f1's certificate claiming b1");
      }
    });

    await t.test("* relaying: the backend by its certificate, not its address", async () => {
      const set = await mailyard([
        "settings",
        "set",
        "smtp.relayNetworks",
        "",
        "--node",
        "f1",
        "--set",
        `dataDir=${f1.dataDir}`,
      ]);
      assert.equal(set.code, 0, set.err);
      await waitFor("f1 trusts no network", async () => (await relayRcpt(f1.smtp, null)) >= 500, 30_000);
      assert.ok((await relayRcpt(f1.smtp, foreign)) >= 500, "another CA");
      assert.ok((await relayRcpt(f1.smtp, stranger)) >= 500, "a CA certificate of no live backend");
      assert.ok((await relayRcpt(f1.smtp, asF1)) >= 500, "a frontend's certificate");
      assert.equal(await relayRcpt(f1.smtp, asB1), 250, "b1's certificate");
      // b1's own relaying through f1 (smtp.forwardTo = *) goes over member TLS and is taken.
      await sendMail(b1.smtp, "someone@remote.test", "relayed-through-f1");
      await waitFor(
        "b1 handed the message to f1",
        async () =>
          /status=sent[^\n]*to=someone@remote\.test|to=someone@remote\.test[^\n]*status=sent/.test(
            await logOf(b1),
          ),
        30_000,
      );
    });

    await t.test("one delivery's traffic holds no message text", async (st) => {
      const proxy = await recordingProxy(b1.channel!);
      st.after(() => proxy.close());
      // The frontend finds b1's channel in the cluster state; the test points it at its proxy.
      const pointChannel = (at: string): void => {
        const db = new Database(join(dir, "state.db"));
        try {
          db.prepare("UPDATE cluster_members SET channel = ? WHERE id = 'b1'").run(at);
        } finally {
          db.close();
        }
      };
      pointChannel(`127.0.0.1:${proxy.port}`);
      st.after(() => pointChannel(`127.0.0.1:${b1.channel}`));
      const text = "Confidential-payload-7f3a";
      const box = join(b1.dataDir, "mail", "example.test", "bob", "new");
      const before = (await readdir(box).catch(() => [])).length;
      // The frontend picks the new address up on its next membership refresh (heartbeat).
      await new Promise((r) => setTimeout(r, 2_500));
      await sendMail(f1.smtp, "bob@example.test", text);
      await waitFor(
        "the message in bob's mailbox",
        async () => (await readdir(box).catch(() => [])).length > before,
      );
      const wire = proxy.bytes();
      assert.ok(wire.length > 500, `the delivery went through the proxy (${wire.length} bytes)`);
      const latin = wire.toString("latin1");
      for (const clear of [text, "bob@example.test", "MAIL FROM", "LHLO", secret.slice(0, 16)])
        assert.ok(!latin.includes(clear), `${clear} in clear on the wire`);
      const stored = await readFile(join(box, (await readdir(box)).sort().at(-1)!), "utf8");
      assert.ok(stored.includes(text));
    });

    await t.test("a renewed member certificate is used without a restart", async () => {
      const reloads = count(await logOf(b1), "cluster TLS reloaded");
      await issueMember(caDir, "b1", tlsOf(b1), { days: 30 });
      const renewed = new X509Certificate(await readFile(join(tlsOf(b1), "member.pem")));
      await waitFor(
        "b1 reloaded",
        async () => count(await logOf(b1), "cluster TLS reloaded") > reloads,
        30_000,
      );
      const s = await tlsTo(b1.channel!, asF1);
      if (typeof s === "string") assert.fail(s);
      const served = s.getPeerX509Certificate();
      s.destroy();
      assert.equal(served?.fingerprint256, renewed.fingerprint256);
      assert.equal(await channelAuth(b1.channel!, asF1, "f1", secret), 235);
    });

    await t.test("CA rotation: old and new accepted during the change", async () => {
      const members = [f1, b1, b2];
      const reloadsOf = async (): Promise<number[]> =>
        Promise.all(members.map(async (x) => count(await logOf(x), "cluster TLS reloaded")));
      const waitReloaded = async (before: number[], which: Member[]): Promise<void> => {
        for (const x of which) {
          const i = members.indexOf(x);
          await waitFor(
            `${x.id} reloaded`,
            async () => count(await logOf(x), "cluster TLS reloaded") > before[i]!,
            30_000,
          );
        }
      };
      const rotated = await mailyard(["cluster", "ca", "init", "--rotate", "--ca", caDir]);
      assert.equal(rotated.code, 0, rotated.err);
      // 1. Every member trusts both CAs.
      let before = await reloadsOf();
      for (const x of members)
        await copyFile(join(caDir, "cluster-ca.pem"), join(tlsOf(x), "cluster-ca.pem"));
      await waitReloaded(before, members);
      // 2. b1 gets a certificate of the new CA; f1 still has the old CA's: mail flows both ways.
      before = await reloadsOf();
      const issued = await mailyard(["cluster", "ca", "issue", "b1", "--ca", caDir, "--out", tlsOf(b1)]);
      assert.equal(issued.code, 0, issued.err);
      await waitReloaded(before, [b1]);
      const box = join(b1.dataDir, "mail", "example.test", "bob", "new");
      const n = (await readdir(box)).length;
      await sendMail(f1.smtp, "bob@example.test", "during-rotation");
      await waitFor("mail delivered during the rotation", async () => (await readdir(box)).length > n);
      assert.equal(
        await channelAuth(b1.channel!, asF1, "f1", secret),
        235,
        "old CA's certificate, mid-rotation",
      );
      // 3. Everyone renewed, the old CA retired: its certificates are refused.
      before = await reloadsOf();
      for (const x of [f1, b2])
        assert.equal(
          (await mailyard(["cluster", "ca", "issue", x.id, "--ca", caDir, "--out", tlsOf(x)])).code,
          0,
        );
      await waitReloaded(before, [f1, b2]);
      assert.equal((await mailyard(["cluster", "ca", "retire", "--ca", caDir])).code, 0);
      before = await reloadsOf();
      for (const x of members)
        await copyFile(join(caDir, "cluster-ca.pem"), join(tlsOf(x), "cluster-ca.pem"));
      await waitReloaded(before, members);
      assert.equal(
        typeof (await channelAuth(b1.channel!, asF1, "f1", secret)),
        "string",
        "old CA after retire",
      );
      const fresh = await creds(tlsOf(f1));
      assert.equal(await channelAuth(b1.channel!, fresh, "f1", secret), 235, "new CA after retire");
      const m2 = (await readdir(box)).length;
      await sendMail(f1.smtp, "bob@example.test", "after-rotation");
      await waitFor("mail delivered after the rotation", async () => (await readdir(box)).length > m2);
    });
  },
);

// Port 465 (RFC 8314 implicit TLS submission) on a single server: swaks --tlsc logs in and
// sends; the listener keeps the submission rules (no relay without AUTH); a client that speaks
// plain SMTP gets no clear-text word and is dropped; one that never starts the handshake is
// dropped at the idle timeout; behind a balancer the PROXY header comes first, in clear, then
// the handshake, and the node logs the real client.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { settingsSchema } from "../../src/config/settings.js";
import { startNode, type RunningNode } from "../../src/server/node.js";
import { main as cli } from "../../src/cli/main.js";
import { memoryLogSink } from "../kit/log.js";
import { swaks } from "../kit/swaks.js";
import { fakeResolver } from "../kit/resolver.js";
import { waitFor } from "../kit/load.js";

const logs = memoryLogSink();
let dataDir = "";
let node: RunningNode;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "mailyard-465-"));
  const settings = settingsSchema.parse({
    dataDir,
    hostname: "mx.example.test",
    smtp: { listen: ["127.0.0.1:0"], idleTimeoutSeconds: 2, proxyProtocolFrom: ["127.0.0.9/32"] },
    submission: { listen: [] },
    submissions: { listen: ["127.0.0.1:0"] },
    pop3: { listen: [] },
    http: { listen: "127.0.0.1:0" },
    log: { stdout: false },
  });
  node = await startNode(settings, { log: logs, world: { resolver: fakeResolver({}) } });
  const sets = ["--set", `dataDir=${dataDir}`, "--set", `http.listen=127.0.0.1:${node.http.port}`];
  assert.equal(await cli(["domain", "add", "example.test", ...sets]), 0);
  assert.equal(await cli(["account", "add", "alice@example.test", "--password", "s3cret", ...sets]), 0);
  assert.equal(await cli(["account", "add", "bob@example.test", "--password", "pw", ...sets]), 0);
});

after(async () => {
  await node?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const port = (): number => node.submissions[0]!.port;

test("swaks --tlsc: AUTH over implicit TLS, the message is stored; without AUTH no relay", async () => {
  const base = ["--server", `127.0.0.1:${port()}`, "--tlsc", "--helo", "client.test", "--timeout", "20"];
  const sent = await swaks([
    ...base,
    "--from",
    "alice@example.test",
    "--to",
    "bob@example.test",
    "--auth",
    "PLAIN",
    "--auth-user",
    "alice@example.test",
    "--auth-password",
    "s3cret",
    "--header",
    "Subject: over 465",
  ]);
  assert.equal(sent.code, 0, sent.out);
  assert.match(sent.out, /TLS started/);
  // STARTTLS is not offered inside TLS
  assert.doesNotMatch(sent.out, /250-STARTTLS/);
  const dir = join(dataDir, "mail", "example.test", "bob", "new");
  await waitFor("bob's message", async () => (await readdir(dir).catch(() => [])).length === 1);
  const [name] = await readdir(dir);
  const text = await readFile(join(dir, name!), "utf8");
  assert.match(text, /Subject: over 465/);
  assert.match(text, /with ESMTPSA/);

  const anon = await swaks([...base, "--from", "x@remote.test", "--to", "someone@remote.test"]);
  assert.notEqual(anon.code, 0);
  assert.match(anon.out, /530 5\.7\.0/);
});

/** Connect, write `first`, and collect every byte until the server closes. */
function rawSession(first: string): Promise<{ bytes: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port(), "127.0.0.1");
    let bytes = "";
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ bytes, closed: false });
    }, 20_000);
    s.on("connect", () => {
      if (first !== "") s.write(first);
    });
    s.on("data", (d: Buffer) => (bytes += d.toString("latin1")));
    s.on("error", reject);
    s.on("close", () => {
      clearTimeout(timer);
      resolve({ bytes, closed: true });
    });
  });
}

test("a plain-text client gets no clear-text reply and is dropped", async () => {
  const r = await rawSession("EHLO plain.test\r\n");
  assert.ok(r.closed, "closed by the server");
  assert.doesNotMatch(r.bytes, /^2\d\d|ESMTP|Mailyard/);
});

test("a client that never starts the handshake is dropped at the idle timeout", async () => {
  const r = await rawSession("");
  assert.ok(r.closed, "closed by the server within the bound");
  assert.equal(r.bytes, "", "nothing said in clear");
  await waitFor("the idle timeout logged", () =>
    logs.records.some((x) => x.tag === "SMTPI" && x.text === "idle timeout"),
  );
});

test("behind a balancer: the PROXY header in clear, then TLS; the node logs the real client", async () => {
  const raw = net.connect({ port: port(), host: "127.0.0.1", localAddress: "127.0.0.9" });
  await new Promise<void>((resolve, reject) => raw.once("connect", resolve).once("error", reject));
  // The header and the ClientHello leave back to back, as HAProxy sends them.
  raw.write("PROXY TCP4 198.51.100.7 127.0.0.1 40000 465\r\n");
  const secure = tls.connect({ socket: raw, rejectUnauthorized: false, servername: "mx.example.test" });
  const greeting = await new Promise<string>((resolve, reject) => {
    secure.once("data", (d: Buffer) => resolve(d.toString()));
    secure.once("error", reject);
  });
  assert.match(greeting, /^220 mx\.example\.test /);
  secure.end("QUIT\r\n");
  await new Promise((resolve) => secure.once("close", resolve));
  assert.ok(
    logs.records.some(
      (x) =>
        x.tag === "SMTPI" && x.text === "connect" && String(x.fields["remote"]).startsWith("198.51.100.7:"),
    ),
    "the connect line names the client from the PROXY header",
  );
});

// The PROXY protocol through a real HAProxy (send-proxy and send-proxy-v2) in front of a Mailyard
// SMTP listener with the real inbound policy: relay control, the Received: header, the queued
// envelope and the logs name the client HAProxy saw (127.0.0.5), not HAProxy (127.0.0.1). Also:
// a client outside smtp.proxyProtocolFrom that sends a PROXY line is just a bad command, and a
// balancer connection without a valid header is closed without a greeting.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema } from "../../src/config/settings.js";
import { renderHaproxyConfig } from "../../src/cluster/haproxy.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import type { Directory } from "../../src/directory/directory.js";
import { createInboundHandler } from "../../src/inbound/handler.js";
import { noMetrics } from "../../src/log/metrics.js";
import { testLoginGates } from "../kit/login-gate.js";
import type { Envelope } from "../../src/queue/envelope.js";
import type { Incoming, Queue } from "../../src/queue/types.js";
import { createSmtpServer, type SmtpServer } from "../../src/smtp/server/listener.js";
import { proxyPreamble } from "../../src/smtp/server/proxy-preamble.js";
import { systemClock } from "../../src/world/clock.js";
import { startHaproxy } from "../kit/haproxy.js";
import { memoryLogSink } from "../kit/log.js";
import { fakeQueue } from "../kit/queue.js";

const HAPROXY_PEER = "127.0.0.1"; // HAProxy's own address towards the SMTP listener
const CLIENT = "127.0.0.5"; // the real client, allowed to relay
const STRANGER = "127.0.0.6"; // another real client, not allowed to relay
const OUTSIDE = "127.0.0.7"; // connects directly, not a balancer

let dir = "";
let directory: Directory;
let server: SmtpServer;
let smtpPort = 0;
const logs = memoryLogSink();
const stored: { envelope: Envelope; text: string }[] = [];
const closers: (() => Promise<void>)[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "mailyard-pp-"));
  directory = openSqliteDirectory(join(dir, "d.db"), systemClock);
  await directory.addDomain("example.test");
  await directory.addAccount("alice@example.test", "pw");
  // The queue keeps what the policy stored: the bytes (Received: first) and the envelope.
  const queue: Queue = {
    ...fakeQueue([]),
    begin(): Promise<Incoming> {
      const chunks: Buffer[] = [];
      const id = `Q${stored.length + 1}`;
      return Promise.resolve({
        id,
        write: (c: Buffer) => Promise.resolve(void chunks.push(c)),
        commit: (d) => {
          const text = Buffer.concat(chunks).toString("latin1");
          const envelope: Envelope = { ...d, id, size: text.length };
          stored.push({ envelope, text });
          return Promise.resolve(envelope);
        },
        abort: () => Promise.resolve(),
      });
    },
  };
  // HAProxy's address may not relay; only the real client CLIENT may.
  const settings = settingsSchema.parse({
    hostname: "fe1.example.test",
    smtp: { relayNetworks: [`${CLIENT}/32`], proxyProtocolFrom: [`${HAPROXY_PEER}/32`] },
  });
  const log = logs.for("SMTPI");
  server = createSmtpServer({
    settings,
    listener: "smtp",
    handler: createInboundHandler({
      settings,
      directory,
      queue,
      clock: systemClock,
      log,
      metrics: noMetrics,
      login: testLoginGates({ after: (fn) => void closers.push(fn) }, settings, systemClock).mail,
    }),
    log,
    clock: systemClock,
    metrics: noMetrics,
    tls: null,
    preamble: proxyPreamble({
      from: settings.smtp.proxyProtocolFrom,
      timeoutMs: 1_000,
      log,
      clock: systemClock,
    }),
  });
  smtpPort = (await server.listen("127.0.0.1", 0)).port;
});

after(async () => {
  await server?.close();
  for (const close of closers) await close();
  await directory?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A line-level SMTP client bound to a chosen source address; every wait is bounded. */
class Client {
  private buf = "";
  private closed = false;
  private wake: (() => void) | null = null;
  readonly received: string[] = [];
  private constructor(private readonly sock: net.Socket) {
    sock.on("data", (d: Buffer) => {
      this.buf += d.toString("latin1");
      this.received.push(d.toString("latin1"));
      this.wake?.();
    });
    sock.on("close", () => {
      this.closed = true;
      this.wake?.();
    });
    sock.on("error", () => undefined);
  }

  static connect(port: number, localAddress: string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: "127.0.0.1", port, localAddress });
      s.once("connect", () => resolve(new Client(s)));
      s.once("error", reject);
    });
  }

  get localPort(): number {
    return this.sock.localPort ?? 0;
  }

  send(text: string): void {
    this.sock.write(text);
  }

  /** The next whole reply's code, or null when the server closed first. */
  async reply(timeoutMs = 5_000): Promise<number | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(\d{3}) [^\r\n]*\r\n/m.exec(this.buf);
      if (m !== null) {
        this.buf = this.buf.slice(m.index + m[0].length);
        return Number(m[1]);
      }
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms; have ${JSON.stringify(this.buf)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  async cmd(line: string): Promise<number | null> {
    this.send(`${line}\r\n`);
    return this.reply();
  }

  /** Resolves once the server has closed the connection; fails after timeoutMs. */
  async closedWithin(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`connection still open after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  close(): void {
    this.sock.destroy();
  }
}

const records = (text: string) => logs.records.filter((r) => r.tag === "SMTPI" && r.text === text);

for (const proxyVersion of [1, 2] as const) {
  test(`through HAProxy with send-proxy${proxyVersion === 2 ? "-v2" : ""}: relay control, Received:, envelope and logs see ${CLIENT}`, async (t) => {
    const lb = await startHaproxy((port) =>
      renderHaproxyConfig({
        listen: `127.0.0.1:${port}`,
        frontends: [{ id: "fe1", smtp: `127.0.0.1:${smtpPort}` }],
        proxyVersion,
        maxconn: 100,
      }),
    );
    t.after(() => lb.stop());
    const before = stored.length;
    const subject = `via haproxy v${proxyVersion}`;

    const c = await Client.connect(lb.port, CLIENT);
    t.after(() => c.close());
    assert.equal(await c.reply(), 220, lb.output());
    assert.equal(await c.cmd("EHLO client.test"), 250);
    assert.equal(await c.cmd("MAIL FROM:<sender@remote.test>"), 250);
    assert.equal(await c.cmd("RCPT TO:<alice@example.test>"), 250);
    // Relaying is allowed for 127.0.0.5 only: HAProxy's 127.0.0.1 is not in relayNetworks.
    assert.equal(await c.cmd("RCPT TO:<bob@elsewhere.test>"), 250);
    assert.equal(await c.cmd("DATA"), 354);
    assert.equal(await c.cmd(`Subject: ${subject}\r\n\r\nhello\r\n.`), 250);
    const clientPort = c.localPort;
    assert.equal(await c.cmd("QUIT"), 221);

    assert.equal(stored.length, before + 1);
    const { envelope, text } = stored[stored.length - 1]!;
    assert.match(
      text,
      new RegExp(`^Received: from client\\.test \\(\\[${CLIENT.replace(/\./g, "\\.")}\\]\\)\r\n`),
    );
    assert.ok(text.includes(`Subject: ${subject}`));
    assert.deepEqual(
      { address: envelope.client?.address, port: envelope.client?.port },
      { address: CLIENT, port: clientPort },
    );

    const session = records("connect").find((r) => r.fields.remote === `${CLIENT}:${clientPort}`);
    assert.ok(session, "the session's connect record names the real client");
    assert.equal(session.context, CLIENT);
    const queued = records("queued").find((r) => r.session === session.session);
    assert.equal(queued?.context, CLIENT);
    assert.equal(queued?.fields.id, envelope.id);
    const header = records("PROXY header").find((r) => r.fields.client === `${CLIENT}:${clientPort}`);
    assert.equal(header?.fields.version, proxyVersion);
    assert.equal(header?.context, HAPROXY_PEER);

    // Another client through the same balancer is not trusted to relay.
    const s = await Client.connect(lb.port, STRANGER);
    t.after(() => s.close());
    assert.equal(await s.reply(), 220);
    assert.equal(await s.cmd("EHLO stranger.test"), 250);
    assert.equal(await s.cmd("MAIL FROM:<sender@remote.test>"), 250);
    assert.equal(await s.cmd("RCPT TO:<bob@elsewhere.test>"), 554);
    assert.equal(await s.cmd("QUIT"), 221);
  });
}

test("the balancer's per-client connection limit counts the real client, not HAProxy", async (t) => {
  const lb = await startHaproxy((port) =>
    renderHaproxyConfig({
      listen: `127.0.0.1:${port}`,
      frontends: [{ id: "fe1", smtp: `127.0.0.1:${smtpPort}` }],
      proxyVersion: 2,
      maxConnectionsPerClient: 1,
    }),
  );
  t.after(() => lb.stop());
  const first = await Client.connect(lb.port, CLIENT);
  t.after(() => first.close());
  assert.equal(await first.reply(), 220, lb.output());
  // Rejected at accept: reset before or just after the connection completes, never greeted.
  const dropped = await Client.connect(lb.port, CLIENT).then(
    async (second) => {
      t.after(() => second.close());
      return (await second.reply()) === null;
    },
    (e: NodeJS.ErrnoException) => e.code === "ECONNRESET",
  );
  assert.ok(dropped, "a second connection from the same client is dropped");
  const other = await Client.connect(lb.port, STRANGER);
  t.after(() => other.close());
  assert.equal(await other.reply(), 220);
  assert.equal(await first.cmd("QUIT"), 221);
  assert.equal(await other.cmd("QUIT"), 221);
});

test("a client outside smtp.proxyProtocolFrom that sends a PROXY line gets a 5xx like any bad command", async (t) => {
  const c = await Client.connect(smtpPort, OUTSIDE);
  t.after(() => c.close());
  assert.equal(await c.reply(), 220);
  const code = await c.cmd(`PROXY TCP4 192.0.2.1 127.0.0.1 1234 25`);
  assert.ok(code !== null && code >= 500 && code < 600, `got ${code}`);
  // Still the same session, still the TCP peer.
  assert.equal(await c.cmd("EHLO outside.test"), 250);
  assert.equal(await c.cmd("MAIL FROM:<sender@remote.test>"), 250);
  assert.equal(await c.cmd("RCPT TO:<bob@elsewhere.test>"), 554);
  assert.equal(await c.cmd("QUIT"), 221);
  const connect = records("connect").find((r) => r.fields.remote === `${OUTSIDE}:${c.localPort}`);
  assert.equal(connect?.context, OUTSIDE);
  assert.ok(!records("PROXY header").some((r) => String(r.fields.client).startsWith("192.0.2.1:")));
});

test("a balancer connection without a valid header is closed without a greeting", async (t) => {
  // A plain SMTP client from the balancer's address: its EHLO is not a PROXY header.
  const plain = await Client.connect(smtpPort, HAPROXY_PEER);
  t.after(() => plain.close());
  plain.send("EHLO client.test\r\n");
  await plain.closedWithin(5_000);
  assert.deepEqual(plain.received, []);

  // Silence: refused when the header timeout (1 s here) runs out.
  const silent = await Client.connect(smtpPort, HAPROXY_PEER);
  t.after(() => silent.close());
  await silent.closedWithin(5_000);
  assert.deepEqual(silent.received, []);

  const refused = records("preamble refused").map((r) => String(r.fields.error));
  assert.ok(
    refused.some((e) => /bad PROXY header: not a PROXY protocol header/.test(e)),
    refused.join("; "),
  );
  assert.ok(
    refused.some((e) => /no complete PROXY header within 1000 ms/.test(e)),
    refused.join("; "),
  );
  assert.ok(records("preamble refused").every((r) => r.context === HAPROXY_PEER));
});

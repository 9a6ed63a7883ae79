// The relay channel sending with BDAT (RFC 3030) to servers that offer CHUNKING and PIPELINING:
// MAIL, RCPT and the body in one write, chunks framed by the bytes actually read, nothing
// dot-stuffed, replies mapped per recipient as with DATA. The peers are real servers: Mailyard's
// own SMTP engine (seen through a recording tap) and a private Postfix smtpd delivering into a
// Maildir. smtp.outbound.chunking=false keeps DATA.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Outcome } from "../../src/proto/outcome.js";
import { reply } from "../../src/proto/reply.js";
import { startPostfix } from "../../bench/postfix.js";
import { cleanupAll } from "../../bench/cleanup.js";
import { fakeResolver } from "../kit/resolver.js";
import { startTestServer } from "../kit/smtp-server.js";
import { testHandler, type HandlerScript } from "../kit/smtp-handler.js";
import { startTap } from "../kit/tap.js";
import { waitFor } from "../kit/load.js";
import { job, relayChannel, relaySettings } from "./fixtures.js";

const kinds = (out: readonly Outcome[]): string[] =>
  out.map((o) => `${o.kind}:${o.reply.code}:${o.reply.enhanced ?? ""}`);

/** example.test's MX is 127.0.0.1; outbound.port points at the tap. */
const exampleMx = fakeResolver({
  mx: { "example.test": { kind: "ok", records: [{ exchange: "mx1.example.test", priority: 10 }] } },
  addresses: { "mx1.example.test": { kind: "ok", records: ["127.0.0.1"] } },
});

/** Mailyard's SMTP engine behind a tap, and a relay channel forwarding to the tap. */
async function rig(t: { after(fn: () => Promise<void>): void }, script: HandlerScript = {}, chunking = true) {
  const server = await startTestServer({ handler: testHandler(script) });
  const tap = await startTap(server.port);
  const h = relayChannel(relaySettings(tap.port, { chunking }), exampleMx);
  t.after(async () => {
    await h.relay.close();
    await tap.close();
    await server.close();
  });
  return { ...h, server, tap };
}

const DOTTED = "Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n";

test("BDAT: commands and body in one write, dots untouched, byte-exact arrival", async (t) => {
  const { relay, server, tap } = await rig(t);
  const out = await relay.deliver(job({ rcpts: ["a@example.test", "b@example.test"], body: DOTTED }));
  assert.deepEqual(kinds(out), ["delivered:250:2.0.0", "delivered:250:2.0.0"]);
  assert.equal(server.handler.messages[0]?.data.toString(), DOTTED);
  const sent = tap.sent();
  assert.ok(!sent.includes("DATA\r\n"), "no DATA command");
  const n = Buffer.byteLength(DOTTED);
  // MAIL, both RCPTs and the only chunk, marked LAST, back to back.
  assert.match(
    sent,
    new RegExp(
      `MAIL FROM:<sender@origin\\.test>[^\\r]*\\r\\nRCPT TO:<a@example\\.test>\\r\\nRCPT TO:<b@example\\.test>\\r\\nBDAT ${n} LAST\\r\\n`,
    ),
  );
  assert.ok(sent.includes(`BDAT ${n} LAST\r\n${DOTTED}`), "the body follows unstuffed");
});

test("BDAT: chunks are grouped up to 256 KB per command, the last one LAST, however the body is cut", async (t) => {
  const { relay, server, tap } = await rig(t);
  // Lines of 100 bytes: BDAT text is held to the line limit as DATA is.
  const lines = (n: number, c: string): Buffer => Buffer.from(`${c.repeat(98)}\r\n`.repeat(n / 100));
  const parts = [lines(200_000, "a"), Buffer.from(".\r\nmiddle\r\n"), lines(130_000, "b")];
  const out = await relay.deliver(job({ rcpts: ["a@example.test"], body: parts }));
  assert.deepEqual(kinds(out), ["delivered:250:2.0.0"]);
  assert.ok(server.handler.messages[0]?.data.equals(Buffer.concat(parts)), "arrived byte-exact");
  const tiny = [...Buffer.from(DOTTED)].map((byte) => Buffer.from([byte]));
  assert.deepEqual(kinds(await relay.deliver(job({ rcpts: ["a@example.test"], body: tiny }))), [
    "delivered:250:2.0.0",
  ]);
  assert.equal(server.handler.messages[1]?.data.toString(), DOTTED);
  const bdats = [...tap.sent().matchAll(/BDAT (\d+)( LAST)?\r\n/g)].map((m) => `${m[1]}${m[2] ?? ""}`);
  assert.deepEqual(bdats, ["200011", "130000 LAST", `${DOTTED.length} LAST`]);
});

test("BDAT: stored stray CR and LF leave a text body as CRLF; BINARYMIME leaves byte for byte", async (t) => {
  const { relay, server, tap } = await rig(t);
  // Cut so that a CR ends one chunk and its LF (or not) starts the next.
  const parts = ["Subject: s\r\n\r\na\n.\nb\r", "\nc\r", ".\rd\x00e\r"].map((p) => Buffer.from(p, "latin1"));
  const out = await relay.deliver(job({ rcpts: ["a@example.test"], body: parts }));
  assert.deepEqual(kinds(out), ["delivered:250:2.0.0"]);
  assert.equal(
    server.handler.messages[0]?.data.toString("latin1"),
    "Subject: s\r\n\r\na\r\n.\r\nb\r\nc\r\n.\r\nde\r\n",
  );
  const binary = Buffer.from([0, 0x0a, 0x2e, 0x0a, 0x0d, 0xff]);
  const bin = await relay.deliver(
    job({ rcpts: ["a@example.test"], body: [binary], envelope: { body: "BINARYMIME" } }),
  );
  assert.deepEqual(kinds(bin), ["delivered:250:2.0.0"]);
  assert.deepEqual(server.handler.messages[1]?.data, binary);
  assert.match(tap.sent(), /BODY=BINARYMIME/);
});

test("BDAT: refused recipients, a refused last chunk, and a reused connection afterwards", async (t) => {
  let finals = [reply(452, "4.3.1", "Insufficient system storage"), reply(554, "5.6.0", "Content rejected")];
  const { relay, server } = await rig(t, {
    rcptTo: (_s, _tx, to) =>
      Promise.resolve(to.startsWith("no") ? reply(550, "5.1.1", "No such user") : reply(250, "2.1.5", "OK")),
    endReply: () => Promise.resolve(finals.shift() ?? reply(250, "2.0.0", "OK")),
  });
  const mixed = await relay.deliver(job({ rcpts: ["no1@example.test", "yes@example.test"] }));
  assert.deepEqual(kinds(mixed), ["bounced:550:5.1.1", "deferred:452:4.3.1"]);
  assert.deepEqual(kinds(await relay.deliver(job({ rcpts: ["yes@example.test"] }))), ["bounced:554:5.6.0"]);
  assert.deepEqual(kinds(await relay.deliver(job({ rcpts: ["no2@example.test"] }))), ["bounced:550:5.1.1"]);
  finals = [];
  assert.deepEqual(kinds(await relay.deliver(job({ rcpts: ["yes@example.test"] }))), ["delivered:250:2.0.0"]);
  // All four transactions on one connection: every refusal left the session usable.
  assert.equal(new Set(server.handler.messages.map((m) => m.session.id)).size, 1);
});

test("smtp.outbound.chunking=false: DATA, dot-stuffed, even when CHUNKING is offered", async (t) => {
  const { relay, server, tap } = await rig(t, {}, false);
  const out = await relay.deliver(job({ rcpts: ["a@example.test"], body: DOTTED }));
  assert.deepEqual(kinds(out), ["delivered:250:2.0.0"]);
  assert.equal(server.handler.messages[0]?.data.toString(), DOTTED);
  assert.ok(!tap.sent().includes("BDAT"));
  assert.ok(tap.sent().includes("\r\n..leading dot\r\n...two dots\r\n..\r\nend\r\n.\r\n"));
});

test("BDAT to a real Postfix smtpd: delivered into its Maildir intact", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-bdat-postfix-"));
  t.after(() => cleanupAll());
  // sinkPort is where Postfix would relay non-local mail; nothing is sent there here.
  const postfix = await startPostfix({ dir, sinkPort: 9, mailboxes: 1 });
  const tap = await startTap(postfix.smtpPort);
  const h = relayChannel(relaySettings(tap.port), exampleMx);
  t.after(async () => {
    await h.relay.close();
    await tap.close();
  });
  const out = await h.relay.deliver(job({ rcpts: ["u0@example.test"], body: DOTTED }));
  assert.deepEqual(kinds(out), ["delivered:250:2.0.0"]);
  assert.match(tap.sent(), /BDAT \d+ LAST\r\n/);
  const newDir = join(postfix.maildirRoot, "example.test", "u0", "new");
  let files: string[] = [];
  await waitFor("Postfix's delivery", async () => {
    files = await readdir(newDir).catch(() => []);
    return files.length > 0;
  });
  assert.equal(files.length, 1, "Postfix delivered the message");
  const stored = await readFile(join(newDir, files[0]!), "utf8");
  assert.ok(stored.endsWith("\n.leading dot\n..two dots\n.\nend\n"), "dots arrive as sent (Maildir uses LF)");
});

// Milters end to end on a single node (smtp.milters): a scriptable fake milter (test/kit) adds
// X-Spam and Sieve files the message into Junk; reject, tempfail with a custom reply, discard,
// quarantine (held in the queue), envelope, header and body edits; and milters that are down,
// close mid-message, never answer (fake clock) or send garbage get the default action, with no
// message lost or stuck and the node still serving. Counters per action and failure in /metrics.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema } from "../../src/config/settings.js";
import { startNode, type RunningNode } from "../../src/server/node.js";
import { main as cli } from "../../src/cli/main.js";
import { memoryLogSink } from "../kit/log.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { waitFor } from "../kit/load.js";
import { FakeClock } from "../kit/clock.js";
import { freePort } from "../kit/ports.js";
import {
  addHeader,
  cont,
  frameOf,
  replyCode,
  startFakeMilter,
  type Answer,
  type MilterCommand,
} from "../kit/fake-milter.js";

const quiet = {
  out: () => undefined,
  err: (t: string) => void process.stderr.write(t + "\n"),
  env: {},
  cwd: tmpdir(),
};
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface Booted {
  node: RunningNode;
  dataDir: string;
  logs: ReturnType<typeof memoryLogSink>;
  sets: string[];
}

async function boot(
  milters: string[],
  over: { clock?: FakeClock; smtp?: Record<string, unknown> } = {},
): Promise<Booted> {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-milter-"));
  const logs = memoryLogSink();
  const settings = settingsSchema.parse({
    dataDir,
    hostname: "mx.example.test",
    smtp: { listen: ["127.0.0.1:0"], milters, ...over.smtp },
    submission: { listen: [] },
    submissions: { listen: [] },
    pop3: { listen: [] },
    http: { listen: "127.0.0.1:0" },
    log: { stdout: false },
  });
  const node = await startNode(settings, { log: logs, world: over.clock ? { clock: over.clock } : {} });
  cleanups.push(async () => {
    await node.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  const sets = ["--set", `dataDir=${dataDir}`, "--set", `http.listen=127.0.0.1:${node.http.port}`];
  assert.equal(await cli(["domain", "add", "example.test", ...sets], quiet), 0);
  for (const u of ["alice", "bob", "carl"]) {
    assert.equal(await cli(["account", "add", `${u}@example.test`, "--password", "pw", ...sets], quiet), 0);
  }
  return { node, dataDir, logs, sets };
}

async function milter(
  script?: (c: MilterCommand, conn: number) => Answer | undefined,
  actions = 0x1ff,
  protocol = 0,
) {
  const m = await startFakeMilter({ actions, protocol, ...(script ? { script } : {}) });
  cleanups.push(() => m.stop());
  return m;
}

const files = async (b: Booted, user: string, sub = "new"): Promise<string[]> => {
  const dir = join(b.dataDir, "mail", "example.test", user, sub);
  const names = await readdir(dir).catch(() => [] as string[]);
  return Promise.all(names.map((n) => readFile(join(dir, n), "utf8")));
};

const message = (subject: string, body = "Hello.\r\n"): string =>
  `From: x@remote.test\r\nTo: alice@example.test\r\nSubject: ${subject}\r\n\r\n${body}`;

/** One SMTP transaction; the replies to MAIL, the RCPTs and the end of data (null: not reached). */
async function send(
  b: Booted,
  rcpts: string[],
  text: string,
): Promise<{ mail: number; rcpt: number[]; end: number | null; endText: string }> {
  const c = await SmtpClient.connect(b.node.smtp[0]!.port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    const mail = (await c.cmd("MAIL FROM:<x@remote.test>")).code;
    const rcpt: number[] = [];
    for (const r of rcpts) rcpt.push((await c.cmd(`RCPT TO:<${r}>`)).code);
    if (mail !== 250 || !rcpt.includes(250)) return { mail, rcpt, end: null, endText: "" };
    const data = await c.cmd("DATA");
    if (data.code !== 354) return { mail, rcpt, end: data.code, endText: data.raw };
    c.send(`${text.replace(/^\./gm, "..")}\r\n.\r\n`);
    const end = await c.expect();
    await c.cmd("QUIT");
    return { mail, rcpt, end: end.code, endText: end.raw };
  } finally {
    c.close();
  }
}

const metric = async (b: Booted, name: string): Promise<string> => {
  const res = await fetch(`http://127.0.0.1:${b.node.http.port}/metrics`);
  const text = await res.text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(name))
    .join("\n");
};

const queued = async (b: Booted): Promise<string> => {
  let out = "";
  const io = { ...quiet, out: (t: string) => void (out += t + "\n") };
  assert.equal(await cli(["queue", "list", ...b.sets], io), 0);
  return out;
};

void test("a milter's X-Spam header is there for Sieve: header :contains files into Junk", async () => {
  const m = await milter((c) =>
    c.cmd === "E"
      ? {
          kind: "frames",
          frames: [addHeader("X-Spam", "Yes"), addHeader("X-Spam-Score", "15.0"), frameOf("c")],
        }
      : undefined,
  );
  const b = await boot([`inet:127.0.0.1:${m.port}`]);
  const script = join(b.dataDir, "alice.sieve");
  await writeFile(script, 'require ["fileinto"];\nif header :contains "X-Spam" "Yes" { fileinto "Junk"; }\n');
  assert.equal(await cli(["sieve", "put", "alice@example.test", script, ...b.sets], quiet), 0);
  const r = await send(b, ["alice@example.test"], message("cheap pills", "Buy now.\r\n".repeat(20_000)));
  assert.equal(r.end, 250, r.endText);
  await waitFor("a message in alice's Junk", async () => (await files(b, "alice", ".Junk/new")).length === 1);
  const [junk] = await files(b, "alice", ".Junk/new");
  assert.match(junk!, /\r\nX-Spam: Yes\r\nX-Spam-Score: 15\.0\r\n\r\nBuy now\./);
  assert.deepEqual(await files(b, "alice"), [], "nothing in INBOX");
  // The milter saw each step; the body came in chunks of at most 65535 bytes, all of it.
  const cmds = m.connections[0]!.map((c) => c.cmd);
  for (const step of ["O", "C", "H", "M", "R", "T", "L", "N", "B", "E", "Q"])
    assert.ok(cmds.includes(step), step);
  const body = m.connections[0]!.filter((c) => c.cmd === "B");
  assert.ok(body.every((c) => c.data.length <= 65535));
  assert.equal(Buffer.concat(body.map((c) => c.data)).toString(), "Buy now.\r\n".repeat(20_000) + "\r\n");
  const headers = m.connections[0]!.filter((c) => c.cmd === "L").map((c) => c.data.toString("latin1"));
  assert.ok(headers.includes("Subject\0cheap pills\0"), headers.join("|"));
  assert.match(await metric(b, "mailyard_milter_actions_total"), /action="addheader"[^\n]* 2/);
  assert.ok(
    b.logs.records.some((l) => l.text === "milter verdicts"),
    "one verdict line per message",
  );
});

void test("reject, tempfail with the milter's own reply code, and discard", async () => {
  const m = await milter((c) => {
    if (c.cmd === "R" && c.data.toString().startsWith("<bob@"))
      return { kind: "frames", frames: [frameOf("r")] };
    if (c.cmd === "L" && c.data.toString().startsWith("Subject\0gtube")) {
      return { kind: "frames", frames: [replyCode("554 5.7.1 Spam message rejected")] };
    }
    if (c.cmd === "E" && c.data.length === 0) return cont();
    return undefined;
  });
  const b = await boot([`inet:127.0.0.1:${m.port}`]);
  const spam = await send(b, ["alice@example.test"], message("gtube"));
  assert.equal(spam.end, 554);
  assert.match(spam.endText, /^554 5\.7\.1 Spam message rejected/);
  // A milter's RCPT reject refuses that recipient only.
  const mixed = await send(b, ["bob@example.test", "carl@example.test"], message("hi"));
  assert.deepEqual(mixed.rcpt, [550, 250]);
  assert.equal(mixed.end, 250);
  await waitFor("carl's message", async () => (await files(b, "carl")).length === 1);
  assert.deepEqual(await files(b, "bob"), []);
  assert.deepEqual(await files(b, "alice"), [], "the rejected message was not stored");

  const t = await milter((c) =>
    c.cmd === "E" ? { kind: "frames", frames: [replyCode("451 4.7.1 Greylisted")] } : undefined,
  );
  const d = await milter((c) => (c.cmd === "E" ? { kind: "frames", frames: [frameOf("d")] } : undefined));
  const b2 = await boot([`inet:127.0.0.1:${t.port}`]);
  const grey = await send(b2, ["alice@example.test"], message("later"));
  assert.equal(grey.end, 451);
  assert.match(grey.endText, /4\.7\.1 Greylisted/);
  const b3 = await boot([`inet:127.0.0.1:${d.port}`]);
  const gone = await send(b3, ["alice@example.test"], message("dropped"));
  assert.equal(gone.end, 250, "discard looks accepted to the client");
  assert.equal((await queued(b2)).includes("x@remote.test"), false);
  assert.equal((await queued(b3)).includes("x@remote.test"), false);
  assert.deepEqual(await files(b3, "alice"), []);
});

void test("edits: sender, recipients, header change and insert, body replaced; quarantine holds", async () => {
  const u32 = (n: number) => {
    const x = Buffer.alloc(4);
    x.writeUInt32BE(n, 0);
    return x;
  };
  const m = await milter((c) => {
    if (c.cmd !== "E") return undefined;
    return {
      kind: "frames",
      frames: [
        frameOf("e", Buffer.from("<bounce@remote.test>\0")),
        frameOf("+", Buffer.from("<carl@example.test>\0")),
        frameOf("2", Buffer.from("<team@example.test>\0NOTIFY=NEVER\0")),
        frameOf("-", Buffer.from("<bob@example.test>\0")),
        frameOf("m", Buffer.concat([u32(1), Buffer.from("Subject\0[filtered] hi\0")])),
        frameOf("i", Buffer.concat([u32(0), Buffer.from("X-First\0top\0")])),
        frameOf("b", Buffer.from("Replaced body.\nSecond line.\n")),
        frameOf("c"),
      ],
    };
  });
  const b = await boot([`inet:127.0.0.1:${m.port}`]);
  assert.equal(await cli(["alias", "add", "team@example.test", "alice@example.test", ...b.sets], quiet), 0);
  const r = await send(b, ["bob@example.test"], message("hi", "Original body.\r\n"));
  assert.equal(r.end, 250, r.endText);
  await waitFor("carl's message", async () => (await files(b, "carl")).length === 1);
  const [got] = await files(b, "carl");
  assert.match(got!, /Return-Path: <bounce@remote\.test>/);
  assert.match(got!, /\r\nX-First: top\r\nFrom: x@remote\.test\r\n/);
  assert.match(got!, /\r\nSubject: \[filtered\] hi\r\n\r\nReplaced body\.\r\nSecond line\.\r\n$/);
  assert.doesNotMatch(got!, /Original body/);
  assert.deepEqual(await files(b, "bob"), []);
  // An added alias is expanded like a RCPT address.
  await waitFor("alice's copy through the alias", async () => (await files(b, "alice")).length === 1);

  const q = await milter((c) =>
    c.cmd === "E"
      ? { kind: "frames", frames: [frameOf("q", Buffer.from("suspicious\0")), frameOf("c")] }
      : undefined,
  );
  const b2 = await boot([`inet:127.0.0.1:${q.port}`]);
  const held = await send(b2, ["alice@example.test"], message("odd"));
  assert.equal(held.end, 250);
  assert.match(await queued(b2), /held/);
  assert.deepEqual(await files(b2, "alice"), [], "a quarantined message is not delivered");
});

void test("a milter that is down: tempfail by default, accept when configured", async () => {
  const dead = await freePort();
  const b = await boot([`inet:127.0.0.1:${dead}`]);
  const r = await send(b, ["alice@example.test"], message("hi"));
  assert.equal(r.mail, 451);
  assert.match(await metric(b, "mailyard_milter_failures_total"), /reason="connect"[^\n]* 1/);
  const b2 = await boot([`inet:127.0.0.1:${dead} defaultAction=accept`]);
  const ok = await send(b2, ["alice@example.test"], message("hi"));
  assert.equal(ok.end, 250);
  await waitFor("alice's message", async () => (await files(b2, "alice")).length === 1);
});

void test("bad milters (closes mid-message, sends garbage, never answers) get the default action", async () => {
  const closes = await milter((c) => (c.cmd === "B" ? { kind: "close" } : undefined));
  const garbage = await milter((c) => (c.cmd === "L" ? { kind: "garbage" } : undefined));
  for (const m of [closes, garbage]) {
    const b = await boot([`inet:127.0.0.1:${m.port}`]);
    const r = await send(b, ["alice@example.test"], message("hi", "body\r\n".repeat(100)));
    assert.equal(r.end, 451, r.endText);
    assert.equal((await queued(b)).includes("x@remote.test"), false, "nothing stuck in the queue");
    // The node goes on: the next session is served (the milter fails again: 451 at once).
    assert.equal((await send(b, ["alice@example.test"], message("again"))).mail !== 0, true);
    // With defaultAction=accept the same milter is left out and the mail is delivered.
    const b2 = await boot([`inet:127.0.0.1:${m.port} defaultAction=accept`]);
    assert.equal((await send(b2, ["alice@example.test"], message("hi"))).end, 250);
    await waitFor("delivered without the broken milter", async () => (await files(b2, "alice")).length === 1);
  }
  // Never answers at end of message: the content timeout on the fake clock.
  const clock = new FakeClock(Date.now());
  const silent = await milter((c) => (c.cmd === "E" ? { kind: "silent" } : undefined));
  const b = await boot([`inet:127.0.0.1:${silent.port} contentTimeout=60`], { clock });
  const c = await SmtpClient.connect(b.node.smtp[0]!.port);
  await c.expect(220);
  await c.cmd("EHLO client.test", 250);
  await c.cmd("MAIL FROM:<x@remote.test>", 250);
  await c.cmd("RCPT TO:<alice@example.test>", 250);
  await c.cmd("DATA", 354);
  c.send(`${message("hi")}\r\n.\r\n`);
  await waitFor("the milter got the end of message", () =>
    silent.connections.some((conn) => conn.some((x) => x.cmd === "E")),
  );
  clock.advance(61_000);
  const end = await c.expect();
  assert.equal(end.code, 451);
  await c.cmd("QUIT");
  c.close();
  assert.match(await metric(b, "mailyard_milter_failures_total"), /reason="timeout"[^\n]* 1/);
  assert.equal((await queued(b)).includes("x@remote.test"), false);
});

void test("events= limits what a milter is sent; connect and end of message always go", async () => {
  const m = await milter();
  const b = await boot([`inet:127.0.0.1:${m.port} events=mail+rcpt`]);
  const r = await send(b, ["alice@example.test"], message("hi", "body\r\n"));
  assert.equal(r.end, 250);
  const cmds = new Set(m.connections[0]!.map((c) => c.cmd));
  for (const sent of ["C", "M", "R", "E"]) assert.ok(cmds.has(sent), sent);
  for (const left of ["H", "L", "N", "B"]) assert.ok(!cmds.has(left), left);
});

void test("at connect: a reject closes the session with 554, a tempfail answers MAIL with 451", async () => {
  const rejects = await milter((c) =>
    c.cmd === "C" ? { kind: "frames", frames: [frameOf("r")] } : undefined,
  );
  const b = await boot([`inet:127.0.0.1:${rejects.port}`]);
  const c = await SmtpClient.connect(b.node.smtp[0]!.port);
  const greeting = await c.expect();
  assert.match(greeting.raw, /^554 5\.7\.1 /);
  await c.closed();
  c.close();
  const tempfails = await milter((c) =>
    c.cmd === "C" ? { kind: "frames", frames: [frameOf("t")] } : undefined,
  );
  const b2 = await boot([`inet:127.0.0.1:${tempfails.port}`]);
  const r = await send(b2, ["alice@example.test"], message("hi"));
  assert.equal(r.mail, 451);
  assert.ok(
    !tempfails.connections[0]!.some((x) => x.cmd === "M"),
    "MAIL not sent to a milter that tempfailed the session",
  );
});

void test("a milter that stops reading (it sends no replies to body chunks) times out: 451, nothing queued", async () => {
  const clock = new FakeClock(Date.now());
  // SMFIP_NR_BODY: Mailyard sends body chunks without waiting, so only the socket pushes back.
  const stalls = await milter((c) => (c.cmd === "B" ? { kind: "stall" } : undefined), 0x1ff, 0x80000);
  const b = await boot([`inet:127.0.0.1:${stalls.port} contentTimeout=10`], { clock });
  const c = await SmtpClient.connect(b.node.smtp[0]!.port);
  await c.expect(220);
  await c.cmd("EHLO client.test", 250);
  await c.cmd("MAIL FROM:<x@remote.test>", 250);
  await c.cmd("RCPT TO:<alice@example.test>", 250);
  await c.cmd("DATA", 354);
  c.send(`${message("big", ("0123456789abcdef".repeat(4) + "\r\n").repeat(256 * 1024))}\r\n.\r\n`);
  let end: number | null = null;
  const got = c.reply(120_000).then((r) => (end = r?.code ?? 0));
  // Fake time moves in steps until the write to the milter, blocked, has timed out.
  await waitFor(
    "the reply to the message",
    () => {
      if (end !== null) return true;
      clock.advance(11_000);
      return false;
    },
    120_000,
  );
  await got;
  assert.equal(end, 451);
  c.close();
  assert.match(await metric(b, "mailyard_milter_failures_total"), /reason="timeout"/);
  assert.equal((await queued(b)).includes("x@remote.test"), false);
});

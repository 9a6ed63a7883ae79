// Checks of the benchmark's own instruments, so a number in docs/BENCHMARKS.md is not an
// artefact of the harness: the sink finds the end of data wherever reads split it and counts
// recipients, the load generator's counts match what arrived, messages have the promised size;
// and the filtered scenarios' filters start and sit in both MTAs' paths.
// Run: node --test dist/bench/
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { cleanupAll } from "./cleanup.js";
import { smallRunContext } from "./small-run.js";
import { startFilter, type FilterName, type FilterPeer } from "./filters.js";
import { ceilingText, measureMilterCeiling, milterPort } from "./milter-ceiling.js";
import { runLoad, WARM_UP_MESSAGES } from "./load.js";
import { makeDirectoryTemplate } from "./mailyard.js";
import { runOnce } from "./measure.js";
import { baselineSummary } from "./report.js";
import { MAILBOXES, scenario } from "./scenarios.js";
import { startSink } from "./sink.js";
import { messageFactory, type Workload } from "./workload.js";

const w = (o: Partial<Workload>): Workload => ({
  kind: "relay",
  messages: 10,
  sessions: 2,
  messageBytes: 2048,
  recipients: 1,
  mailboxes: 100,
  ...o,
});

test.after(() => cleanupAll());

test("messages have the requested size and end with the end-of-data line", () => {
  for (const bytes of [2048, 102_400]) {
    const m = messageFactory(w({ messageBytes: bytes }))(7);
    assert.ok(Math.abs(m.length - bytes) < 80, `size ${m.length} for ${bytes}`);
    assert.equal(m.subarray(-5).toString(), "\r\n.\r\n");
    assert.equal(m.indexOf("\r\n.\r\n"), m.length - 5, "no early end marker");
  }
});

const TRANSACTION = Buffer.from(
  "EHLO t\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<e@d.test>\r\nDATA\r\n" +
    "Subject: x\r\n\r\nline\r\n.\r\nQUIT\r\n",
);

/** Sends one pipelined transaction in two writes split at `at`, returns the replies. */
async function splitTransaction(port: number, at: number, all = TRANSACTION): Promise<string> {
  const sock = net.connect({ host: "127.0.0.1", port });
  let text = "";
  sock.on("data", (d: Buffer) => (text += d.toString()));
  await new Promise<void>((r) => sock.once("connect", () => r()));
  sock.write(all.subarray(0, at));
  await new Promise((r) => setTimeout(r, 5));
  sock.write(all.subarray(at));
  await new Promise<void>((r) => sock.once("close", () => r()));
  return text;
}

test("the sink finds the end of data wherever the reads split it", async () => {
  const sink = await startSink();
  try {
    await sink.reset();
    // Every split point from inside DATA's command line to inside QUIT.
    const from = TRANSACTION.indexOf("DATA") + 2;
    const to = TRANSACTION.length - 2;
    for (let at = from; at < to; at++) {
      const replies = await splitTransaction(sink.port, at);
      assert.match(replies, /250 2\.0\.0 Ok: queued\r\n221 /, `split at ${at}`);
    }
    const s = await sink.stats();
    assert.equal(s.messages, to - from);
    assert.equal(s.recipients, 2 * (to - from));
  } finally {
    await sink.stop();
  }
});

const CHUNKED = Buffer.from(
  "EHLO t\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 12\r\nSubject: x\r\nBDAT 9 LAST\r\n\r\n.line\r\n" +
    "MAIL FROM:<a@b.test>\r\nBDAT 3 LAST\r\nabcQUIT\r\n",
);

test("the sink takes BDAT chunks wherever the reads split them", async () => {
  const sink = await startSink();
  try {
    await sink.reset();
    const from = CHUNKED.indexOf("BDAT");
    const to = CHUNKED.length - 2;
    for (let at = from; at < to; at++) {
      const replies = await splitTransaction(sink.port, at, CHUNKED);
      // The second transaction has no recipient: its LAST chunk is refused, and not counted.
      assert.match(
        replies,
        /250 2\.0\.0 Ok: chunk\r\n250 2\.0\.0 Ok: queued\r\n250 2\.1\.0 Ok\r\n554 5\.5\.1 No valid recipients\r\n221 /,
        `split at ${at}`,
      );
    }
    const s = await sink.stats();
    assert.equal(s.messages, to - from);
    assert.equal(s.recipients, to - from);
  } finally {
    await sink.stop();
  }
});

test("every message the load generator saw accepted arrives, with all its recipients", async () => {
  const sink = await startSink();
  try {
    await sink.reset();
    const r = await runLoad(
      sink.port,
      w({ kind: "fanout", messages: 40, sessions: 4, recipients: 3 }),
      30_000,
    );
    assert.equal(r.acked, 40);
    assert.equal(r.failed, 0);
    assert.equal(r.latenciesMs.length, 40);
    assert.ok(r.lastAckMs >= r.startMs);
    const s = await sink.stats();
    assert.equal(s.messages, 40);
    assert.equal(s.recipients, 120);
  } finally {
    await sink.stop();
  }
});

test("the warm-up's end is the 1,000th acknowledgement, between the start and the last one", async () => {
  const sink = await startSink();
  try {
    await sink.reset();
    const few = await runLoad(sink.port, w({ messages: 20 }), 30_000);
    assert.equal(few.warmUpAckMs, 0, "no warm-up end in a run of fewer messages");
    const r = await runLoad(sink.port, w({ messages: WARM_UP_MESSAGES + 50, sessions: 4 }), 60_000);
    assert.equal(r.acked, WARM_UP_MESSAGES + 50);
    assert.ok(r.warmUpAckMs > r.startMs && r.warmUpAckMs < r.lastAckMs, JSON.stringify(r));
    // 1,000 of the acknowledgements are at or before it: the latencies are in acknowledgement order.
    assert.equal(r.latenciesMs.length, WARM_UP_MESSAGES + 50);
  } finally {
    await sink.stop();
  }
});

test("an mx workload: a connection per message from many addresses, HELO and EHLO, no pipelining", async () => {
  // A minimal SMTP server that records each connection's client address and greeting verb, and
  // whether a command arrived while an earlier one still awaited its reply (pipelining).
  const seen: { address: string; hello: string }[] = [];
  let pipelined = 0;
  let messages = 0;
  const server = net.createServer((sock) => {
    const conn = { address: sock.remoteAddress ?? "", hello: "" };
    seen.push(conn);
    let buf = "";
    let inData = false;
    sock.write("220 t\r\n");
    sock.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      for (;;) {
        if (inData) {
          const end = buf.indexOf("\r\n.\r\n");
          if (end < 0) return;
          buf = buf.slice(end + 5);
          inData = false;
          messages++;
          sock.write("250 ok\r\n");
          continue;
        }
        const i = buf.indexOf("\r\n");
        if (i < 0) return;
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (buf.length > 0) pipelined++;
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === "HELO" || verb === "EHLO") conn.hello = verb;
        if (verb === "DATA") {
          inData = true;
          sock.write("354 go\r\n");
        } else if (verb === "QUIT") sock.end("221 bye\r\n");
        else sock.write("250 ok\r\n");
      }
    });
    sock.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const r = await runLoad(port, w({ messages: 12, sessions: 3, mx: { sources: 5 } }), 30_000);
    assert.equal(r.acked, 12, r.firstError ?? "");
    assert.equal(messages, 12);
    assert.equal(seen.length, 12, "one connection per message");
    assert.deepEqual([...new Set(seen.map((c) => c.address))].sort(), [
      "127.0.0.2",
      "127.0.0.3",
      "127.0.0.4",
      "127.0.0.5",
      "127.0.0.6",
    ]);
    assert.deepEqual(new Set(seen.map((c) => c.hello)), new Set(["HELO", "EHLO"]));
    assert.equal(pipelined, 0, "every command waited for its reply");
  } finally {
    await new Promise((r) => server.close(r));
  }
});

// The filtered scenarios' set-up, cheaply: the filters start, both MTAs are wired to them, and
// five messages go through each run (a milter that does not answer would tempfail them: both
// MTAs' default milter action). Needs root and the peers (Postfix, rspamd, OpenDKIM), as the
// benchmark does. No timing is asserted.
test("the filtered scenarios run end to end with their filters (5 messages each)", async (t) => {
  if (process.getuid?.() !== 0) return t.skip("needs root, as the benchmark does (a private Postfix)");
  const base = await mkdtemp(join(tmpdir(), "mailyard-bench-test-"));
  await chmod(base, 0o755);
  const sink = await startSink();
  try {
    const template = await makeDirectoryTemplate(await mkdtemp(join(base, "directory-")), MAILBOXES);
    const names = ["relay-2k-dkim", "local-100-rspamd"] as const;
    const filters = new Map<FilterName, FilterPeer>();
    for (const f of ["dkim", "rspamd"] as const)
      filters.set(f, await startFilter(f, join(base, `filter-${f}`), template));
    const ctx = smallRunContext(base, sink, template, filters);
    for (const name of names) {
      const s = scenario(name, true);
      assert.ok(s?.kind === "messages" && s.filter !== undefined, name);
      const small = { ...s, workload: { ...s.workload, messages: 5, sessions: 2 } };
      const runs = [
        await runOnce(small, "mailyard", 1, ctx),
        await runOnce(small, "postfix", 1, ctx),
        ...(s.baseline === true ? [await runOnce(small, "mailyard", 1, ctx, { unfiltered: true })] : []),
      ];
      for (const r of runs) {
        assert.equal(r.error, null, `${name} ${r.mta}${r.variant ? ` ${r.variant}` : ""}`);
        assert.equal(r.acked, 5);
        assert.equal(r.deliveredRecipients, 5);
      }
      // Postfix reached the filter through its milter; so did Mailyard where it uses one.
      assert.notEqual(runs[1]!.filterCpuSeconds, undefined);
      assert.equal(runs[0]!.filterCpuSeconds === undefined, filters.get(s.filter)!.mailyardMilter === null);
      if (s.baseline === true) assert.notEqual(baselineSummary(runs), null);
      if (s.filter === "rspamd") {
        // The filter alone: every message answered by rspamd, at a rate the report can weigh.
        const f = filters.get("rspamd")!;
        const c = await measureMilterCeiling(milterPort(f.postfixMilter), f.pid, small.workload);
        assert.ok(c.messagesPerSec > 0 && Number.isFinite(c.messagesPerSec));
        assert.match(ceilingText(c, runs), /Mailyard delivered \d+ % of that, Postfix \d+ %/);
      }
    }
  } finally {
    await sink.stop();
    await cleanupAll();
    await rm(base, { recursive: true, force: true });
  }
});

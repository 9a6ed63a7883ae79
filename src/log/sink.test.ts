// The log sink: line format, per-tag levels, daily files rotated by the injected clock.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { settingsSchema } from "../config/settings.js";
import { FakeClock } from "../../test/kit/clock.js";
import { createLogSink } from "./sink.js";
import { formatRecord } from "./format.js";
import { tempDir } from "../../test/kit/temp-dir.js";

async function setup(t: { after(fn: () => Promise<void>): void }, log: Record<string, unknown> = {}) {
  const dir = await tempDir(t, "mailyard-log-");
  const settings = settingsSchema.parse({ dataDir: dir, log });
  const clock = new FakeClock(Date.UTC(2026, 2, 14, 23, 59, 58, 7));
  const out = new PassThrough();
  let printed = "";
  out.on("data", (d: Buffer) => (printed += d.toString()));
  const sink = createLogSink({ settings, clock, stdout: out });
  return { dir, clock, sink, printed: () => printed };
}

void test("formats time, level, tag, zero-padded session, context, text and fields", () => {
  const line = formatRecord({
    at: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
    level: 3,
    tag: "SMTPI",
    session: 42,
    context: "[192.0.2.1]",
    text: "connection refused",
    fields: {
      to: "a@example.test",
      reply: '550 5.1.1 "no"\r\nX',
      n: 3,
      ok: false,
      none: undefined,
      nil: null,
    },
  });
  assert.equal(
    line,
    '03:04:05.006 3 SMTPI-000042([192.0.2.1]) connection refused to=a@example.test reply="550 5.1.1 \\"no\\"\\r\\nX" n=3 ok=false nil=""',
  );
});

void test("a newline in text or context cannot start a new record", () => {
  const line = formatRecord({
    at: 0,
    level: 5,
    tag: "SMTP",
    session: 1_234_567,
    context: "a\nb",
    text: "x\ny",
    fields: { "k\n": "v" },
  });
  assert.equal(line.includes("\n"), false);
  assert.match(line, /^00:00:00\.000 5 SMTP-234567\(a\\nb\) x\\ny k\\n=v$/);
});

void test("writes to stdout and to the day's file", async (t) => {
  const { dir, sink, printed } = await setup(t);
  sink.for("SYSTEM").major("started", { node: "n1" });
  await sink.close();
  const expected = "23:59:58.007 2 SYSTEM-000000() started node=n1\n";
  assert.equal(printed(), expected);
  assert.equal(await readFile(join(dir, "logs", "mailyard-2026-03-14.log"), "utf8"), expected);
});

void test("levels: the default level applies unless the tag has its own", async (t) => {
  const { sink, printed } = await setup(t, { level: 2, levels: { smtp: 5, QUEUE: 1 } });
  const smtp = sink.for("SMTP", 7, "peer");
  const queue = sink.for("QUEUE");
  const sys = sink.for("SYSTEM");
  assert.equal(smtp.enabled(5), true);
  assert.equal(queue.enabled(2), false);
  smtp.info("smtp info");
  queue.major("queue major");
  queue.failure("queue failure");
  sys.major("system major");
  sys.problem("system problem");
  sink.setLevel("SYSTEM", 3);
  sys.problem("system problem after setLevel");
  await sink.flush();
  const lines = printed()
    .trimEnd()
    .split("\n")
    .map((l) => l.slice(13));
  assert.deepEqual(lines, [
    "5 SMTP-000007(peer) smtp info",
    "1 QUEUE-000000() queue failure",
    "2 SYSTEM-000000() system major",
    "3 SYSTEM-000000() system problem after setLevel",
  ]);
  assert.equal(sink.level("SMTP"), 5);
  await sink.close();
});

void test("rotates to a new file when the clock passes midnight (UTC)", async (t) => {
  const { dir, clock, sink } = await setup(t, { stdout: false, dir: "" });
  const log = sink.for("QUEUE");
  log.major("before midnight", { i: 1 });
  await sink.flush();
  clock.advance(3_000);
  log.major("after midnight", { i: 2 });
  log.with(9, "x").major("same day", { i: 3 });
  await sink.close();
  const logs = join(dir, "logs");
  assert.deepEqual((await readdir(logs)).sort(), ["mailyard-2026-03-14.log", "mailyard-2026-03-15.log"]);
  assert.equal(
    await readFile(join(logs, "mailyard-2026-03-14.log"), "utf8"),
    "23:59:58.007 2 QUEUE-000000() before midnight i=1\n",
  );
  assert.equal(
    await readFile(join(logs, "mailyard-2026-03-15.log"), "utf8"),
    "00:00:01.007 2 QUEUE-000000() after midnight i=2\n00:00:01.007 2 QUEUE-000009(x) same day i=3\n",
  );
});

void test("records made in one turn are written in order, and nothing after close", async (t) => {
  const { dir, clock, sink } = await setup(t, { stdout: false });
  const log = sink.for("DELIVERY");
  // Crosses midnight inside one batch: each line still lands in its own day's file.
  for (let i = 0; i < 5; i++) {
    log.major("step", { i });
    clock.advance(1_000);
  }
  await sink.close();
  log.major("after close");
  await sink.flush();
  const day1 = await readFile(join(dir, "logs", "mailyard-2026-03-14.log"), "utf8");
  const day2 = await readFile(join(dir, "logs", "mailyard-2026-03-15.log"), "utf8");
  assert.deepEqual(
    [...`${day1}${day2}`.matchAll(/i=(\d)/g)].map((m) => m[1]),
    ["0", "1", "2", "3", "4"],
  );
  assert.equal(day1.split("\n").length - 1, 2);
  assert.equal(`${day1}${day2}`.includes("after close"), false);
});

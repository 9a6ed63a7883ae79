// Fault tests of a static cluster under load, with real member processes (processes-kit.ts):
// a backend stopped (SIGTERM, and SIGKILL) part-way through a bounded load through a frontend,
// then restarted on its data directory; and a frontend killed with SIGKILL mid-load, then
// restarted on its data directory. In both, every message that got a 250 must end up in the
// Maildir of its account's home backend (or, relayed, at smtp-sink), and nowhere else.
// At-least-once delivery may duplicate a message whose 250 from the backend was cut off by the
// kill: duplicates are counted and reported, not failed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { runLoad, waitFor, type LoadResult } from "../kit/load.js";
import { startSink } from "../kit/sink.js";
import { maildirTags, startProcCluster, type Member, type ProcCluster } from "./processes-kit.js";

const HOMES: Readonly<Record<string, "b1" | "b2">> = {
  "u1@example.test": "b1",
  "u2@example.test": "b1",
  "v1@example.test": "b2",
  "v2@example.test": "b2",
};
const ACCOUNTS = Object.keys(HOMES);

async function addAccounts(c: ProcCluster): Promise<void> {
  await c.directory.addDomain("example.test");
  for (const [address, home] of Object.entries(HOMES)) {
    await c.directory.addAccount(address, "pw");
    await c.state.setHome(address, home);
  }
}

/** Where each acknowledged tag should be, and where every stored tag was found. */
interface Tally {
  /** Acknowledged, found nowhere. */
  readonly lost: string[];
  /** Found in a mailbox (or the sink) other than its own. */
  readonly misplaced: string[];
  /** Tags found more than once. */
  readonly duplicated: string[];
  /** Found, never acknowledged (a transaction the kill cut off after the data was stored). */
  readonly unacked: number;
}

async function tally(
  c: ProcCluster,
  result: LoadResult,
  expected: (tag: string) => string,
  sinkTags: () => Promise<string[]> = () => Promise.resolve([]),
): Promise<Tally> {
  const seen = new Map<string, string[]>();
  const found = (where: string, tags: readonly string[]): void => {
    for (const tag of tags) seen.set(tag, [...(seen.get(tag) ?? []), where]);
  };
  for (const address of ACCOUNTS) {
    for (const node of ["b1", "b2"]) {
      found(`${node}:${address}`, await maildirTags(join(c.root, node, "mail"), address));
    }
  }
  found("sink", await sinkTags());
  const acked = new Set(result.acked);
  const lost = result.acked.filter((tag) => !seen.has(tag));
  const misplaced: string[] = [];
  const duplicated: string[] = [];
  let unacked = 0;
  for (const [tag, places] of seen) {
    if (places.some((p) => p !== expected(tag))) misplaced.push(`${tag}@${places.join("+")}`);
    if (places.length > 1) duplicated.push(tag);
    if (!acked.has(tag)) unacked++;
  }
  return { lost, misplaced, duplicated, unacked };
}

const indexOf = (tag: string): number => Number(tag.slice("load-".length));

for (const signal of ["SIGTERM", "SIGKILL"] as const) {
  test(`a backend stopped with ${signal} during a load: every acknowledged message reaches its home Maildir once it is back`, async (t) => {
    const c = await startProcCluster(t);
    await addAccounts(c);
    await c.start("b1", "backend");
    let b2: Member = await c.start("b2", "backend");
    const frontends = [await c.start("f1", "frontend"), await c.start("f2", "frontend")];
    await c.waitLive(frontends, ["b1", "b2", "f1", "f2"]);

    // Half the messages through each frontend, tags load-0.. and load-150..; b2 is stopped
    // once 100 of them in all have been acknowledged.
    const messages = 300;
    const stopAt = 100;
    let acks = 0;
    let stoppedAfter = -1;
    // Acknowledgements per frontend so far, and as they stood when b2 was stopped.
    const perLoad = [0, 0];
    let atStop = [0, 0];
    let b2Gone: Promise<number | null> = Promise.resolve(null);
    const loads = await Promise.all(
      frontends.map((f, k) =>
        runLoad({
          port: f.smtp,
          sessions: 8,
          messages: messages / 2,
          firstIndex: (k * messages) / 2,
          from: "sender@remote.test",
          to: (i) => ACCOUNTS[i % ACCOUNTS.length]!,
          bodyBytes: 1024,
          timeoutMs: 40_000,
          onAck: (n) => {
            perLoad[k] = n;
            if (++acks !== stopAt) return;
            stoppedAfter = acks;
            atStop = [...perLoad];
            b2Gone = b2.kill(signal);
          },
        }),
      ),
    );
    const result: LoadResult = {
      acked: loads.flatMap((l) => l.acked),
      failed: loads.flatMap((l) => l.failed),
      why: loads.flatMap((l) => l.why),
    };
    const code = await b2Gone;
    assert.equal(stoppedAfter, stopAt, `the load got ${result.acked.length} acks`);
    if (signal === "SIGTERM") assert.equal(code, 0, "a graceful stop exits 0");
    // b1 answers the frontend's questions meanwhile, so mail for b2's accounts is still taken.
    const afterStop = loads.flatMap((l, k) => l.acked.slice(atStop[k]));
    assert.ok(
      afterStop.some((tag) => HOMES[ACCOUNTS[indexOf(tag) % ACCOUNTS.length]!] === "b2"),
      "mail for b2's accounts accepted while b2 was away",
    );
    assert.ok(result.acked.length >= messages * 0.9, `${result.acked.length} of ${messages} acknowledged`);
    // What b2 was sent while away waits in the frontends' queues, to be retried.
    const queued = await Promise.all(frontends.map(async (f) => (await f.health()).queue));
    assert.ok(
      queued.every((n) => n > 0),
      `mail for b2 queued on the frontends while b2 is away: ${queued.join(",")}`,
    );
    // Any of b2's accounts: which of them got mail first depends on how the sessions interleave.
    let beforeStop = 0;
    for (const address of ACCOUNTS.filter((a) => HOMES[a] === "b2"))
      beforeStop += (await maildirTags(join(b2.dataDir, "mail"), address)).length;
    assert.ok(beforeStop > 0, "b2 stored mail before it was stopped");

    b2 = await c.start("b2", "backend", [], b2.dataDir);
    const expected = (tag: string): string => {
      const address = ACCOUNTS[indexOf(tag) % ACCOUNTS.length]!;
      return `${HOMES[address]}:${address}`;
    };
    await waitFor(
      "every acknowledged message stored",
      async () => (await tally(c, result, expected)).lost.length === 0,
      45_000,
    );
    for (const f of frontends) {
      await waitFor(`${f.id}'s queue empty`, async () => (await f.health()).queue === 0, 20_000);
    }
    const r = await tally(c, result, expected);
    assert.deepEqual(r.lost, []);
    assert.deepEqual(r.misplaced, []);
    t.diagnostic(
      `${signal}: acked=${result.acked.length} failed=${result.failed.length} duplicated=${r.duplicated.length} stored-unacked=${r.unacked}`,
    );
    // b1 never went away: nothing it was sent can have been duplicated by a retry.
    const b1Dups = r.duplicated.filter((tag) => expected(tag).startsWith("b1:"));
    assert.deepEqual(b1Dups, []);
  });
}

test("a frontend killed with SIGKILL mid-load loses nothing it acknowledged, local or relayed, after a restart", async (t) => {
  const sink = await startSink();
  t.after(() => sink.stop());
  const c = await startProcCluster(t);
  await addAccounts(c);
  await c.start("b1", "backend");
  await c.start("b2", "backend");
  const forward = `smtp.forwardTo=127.0.0.1:${sink.port}`;
  let f1 = await c.start("f1", "frontend", [forward]);
  await c.waitLive([f1], ["b1", "b2", "f1"]);

  const messages = 1000;
  const killAt = 250;
  // Every third message is relayed, the others go to the four accounts in turn.
  const to = (i: number): string => (i % 3 === 2 ? `r${i}@remote.test` : ACCOUNTS[i % ACCOUNTS.length]!);
  const result = await runLoad({
    port: f1.smtp,
    sessions: 16,
    messages,
    from: "sender@remote.test",
    to,
    bodyBytes: 1024,
    timeoutMs: 40_000,
    onAck: (n) => {
      if (n === killAt) f1.child.kill("SIGKILL");
    },
  });
  await f1.exited;
  assert.ok(result.acked.length >= killAt, `load got ${result.acked.length} acks before the kill`);
  assert.ok(result.failed.length > 0, "the kill cut some transactions off");

  f1 = await c.start("f1", "frontend", [forward], f1.dataDir);
  // The restarted frontend resumed what its spool held at the kill.
  const resumed = f1.lines().find((l) => / queue manager started /.test(l)) ?? "";
  assert.ok(Number(/ messages=(\d+)/.exec(resumed)?.[1] ?? 0) > 0, resumed);
  const expected = (tag: string): string => {
    const address = to(indexOf(tag));
    const home = HOMES[address];
    return home === undefined ? "sink" : `${home}:${address}`;
  };
  const sinkTags = async (): Promise<string[]> =>
    (await sink.messages()).flatMap((m) => [...m.matchAll(/^Subject: (load-\d+)\r?$/gm)].map((x) => x[1]!));
  await waitFor(
    "every acknowledged message delivered",
    async () => (await tally(c, result, expected, sinkTags)).lost.length === 0,
    45_000,
  );
  await waitFor("f1's queue empty", async () => (await f1.health()).queue === 0, 20_000);
  const r = await tally(c, result, expected, sinkTags);
  assert.deepEqual(r.lost, []);
  assert.deepEqual(r.misplaced, []);
  t.diagnostic(
    `frontend SIGKILL: acked=${result.acked.length} failed=${result.failed.length} duplicated=${r.duplicated.length} stored-unacked=${r.unacked}`,
  );
});

// One fault scenario run on both stores (faults-channel.test.ts on a SQLite file,
// postgres-dynamic.test.ts on PostgreSQL, each file within the runner's time limit): in a
// dynamic cluster the backend holding leases is killed with SIGKILL mid-load, and every
// acknowledged message still reaches the shared Maildir, the dead backend's accounts taken over
// by the other once its leases run out.
import assert from "node:assert/strict";
import { join } from "node:path";
import { rendezvousOrder } from "../../src/cluster/rendezvous.js";
import { runLoad, waitFor } from "../kit/load.js";
import { maildirTags, startProcCluster, type ProcClusterOptions } from "./processes-kit.js";

/** Two accounts each of b1 and b2 is first for (rendezvous order), so either backend owns some. */
export function splitAccounts(): string[] {
  const candidates = Array.from({ length: 40 }, (_, i) => `a${i}@example.test`);
  const firstFor = (id: string): string[] =>
    candidates.filter((a) => rendezvousOrder(a, ["b1", "b2"])[0] === id).slice(0, 2);
  return [...firstFor("b1"), ...firstFor("b2")];
}

type T = { after(fn: () => Promise<void>): void; diagnostic(text: string): void };

export async function dynamicTakeoverUnderLoad(t: T, o: ProcClusterOptions): Promise<void> {
  const c = await startProcCluster(t, ["cluster.kind=dynamic", "cluster.leaseSeconds=2"], o);
  const shared = join(c.root, "shared-mail");
  const accounts = splitAccounts();
  assert.equal(accounts.length, 4);
  await c.directory.addDomain("example.test");
  for (const a of accounts) await c.directory.addAccount(a, "pw");
  const b1 = await c.start("b1", "backend", [`local.mailDir=${shared}`]);
  await c.start("b2", "backend", [`local.mailDir=${shared}`]);
  const f1 = await c.start("f1", "frontend");
  await c.waitLive([f1], ["b1", "b2", "f1"]);

  const killAt = 80;
  // The accounts b1 holds open when it is killed (its leases outlive it by up to leaseSeconds).
  let heldAtKill: Promise<string[]> = Promise.resolve([]);
  const result = await runLoad({
    port: f1.smtp,
    sessions: 12,
    messages: 240,
    from: "sender@remote.test",
    to: (i) => accounts[i % accounts.length]!,
    bodyBytes: 1024,
    timeoutMs: 40_000,
    onAck: (n) => {
      if (n !== killAt) return;
      b1.child.kill("SIGKILL");
      heldAtKill = c.state
        .leases(Date.now())
        .then((ls) => ls.filter((l) => l.owner === "b1").map((l) => l.account));
    },
  });
  await b1.exited;
  const held = await heldAtKill;
  assert.ok(result.acked.length >= killAt, `${result.acked.length} acknowledged`);
  const tags = async (): Promise<Set<string>> =>
    new Set((await Promise.all(accounts.map((a) => maildirTags(shared, a)))).flat());
  await waitFor(
    "every acknowledged message stored",
    async () => {
      const got = await tags();
      return result.acked.every((tag) => got.has(tag));
    },
    45_000,
  );
  const got = await tags();
  assert.deepEqual(
    result.acked.filter((tag) => !got.has(tag)),
    [],
  );
  await waitFor("f1's queue empty", async () => (await f1.health()).queue === 0, 20_000);
  // The accounts b1 had open when it died are b2's now.
  assert.ok(held.length > 0, "b1 held leases when it was killed");
  const now = await c.state.leases(Date.now());
  for (const account of held) assert.equal(now.find((l) => l.account === account)?.owner, "b2", account);
  const all = (await Promise.all(accounts.map((a) => maildirTags(shared, a)))).flat();
  t.diagnostic(
    `dynamic${o.postgres !== undefined ? " on postgres" : ""}: acked=${result.acked.length} duplicated=${all.length - new Set(all).size} b1 held ${held.join(",")}`,
  );
}

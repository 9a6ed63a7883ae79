// Fenced mailbox stores in a dynamic cluster (issue 16 item 4): the lease is checked again right
// before the rename into new/, with a safety margin. A backend that cannot renew (state
// unreachable) while a message is written, and reaches the rename with less than the margin
// left, abandons the store with a 4xx and leaves nothing in the mailbox (new/ or tmp/); with room
// to spare it stores. The mailbox store itself publishes nothing a refusing fence stops.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createLeaseKeeper } from "../../src/cluster/leases.js";
import { openSqliteClusterState } from "../../src/cluster/sqlite-state.js";
import type { ClusterState } from "../../src/cluster/state.js";
import { leaseFence } from "../../src/cluster/store-fence.js";
import { settingsSchema } from "../../src/config/settings.js";
import { createLeasedMailbox } from "../../src/delivery/leased.js";
import { createLocalChannel } from "../../src/delivery/local.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import type { DeliveryJob } from "../../src/queue/types.js";
import { createMaildirStore, StoreFencedError } from "../../src/store/maildir.js";
import { job as channelJob } from "../channel/fixtures.js";
import { FakeClock } from "../kit/clock.js";
import { memoryLogSink } from "../kit/log.js";

const LEASE_MS = 15_000;
const MARGIN_MS = 2_000;
const MESSAGE = "From: <bob@remote.test>\r\nSubject: fenced\r\n\r\nHello.\r\n";

async function rig(t: TestContext) {
  const tmp = await mkdtemp(join(tmpdir(), "mailyard-fence-"));
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const directory = openSqliteDirectory(join(tmp, "state.db"), clock);
  const real = openSqliteClusterState(join(tmp, "state.db"), clock);
  t.after(async () => {
    await keeper.stop();
    await real.close();
    await directory.close();
    await rm(tmp, { recursive: true, force: true });
  });
  await directory.addDomain("example.test");
  await directory.addAccount("alice@example.test", "pw");
  let reachable = true;
  // The state as the backend sees it: renewals fail while it is unreachable.
  const state: ClusterState = {
    ...real,
    renewLease: (lease, now, ttl) =>
      reachable ? real.renewLease(lease, now, ttl) : Promise.reject(new Error("state unreachable")),
  };
  const logs = memoryLogSink();
  const keeper = createLeaseKeeper({
    state,
    nodeId: "b1",
    clock,
    leaseMs: LEASE_MS,
    idleMs: 60_000,
    log: logs.for("CLUSTER"),
  });
  const root = join(tmp, "mail");
  const store = createMaildirStore(root, logs.for("LOCAL"), {
    fence: leaseFence(keeper, MARGIN_MS, logs.for("CLUSTER")),
    now: () => clock.now(),
  });
  const mailbox = createLeasedMailbox({
    keeper,
    mailbox: createLocalChannel({
      directory,
      store,
      settings: settingsSchema.parse({}),
      clock,
      log: logs.for("LOCAL"),
      hostname: "b1.example.test",
    }),
  });
  const files = async (sub: "new" | "tmp"): Promise<string[]> =>
    readdir(join(root, "example.test", "alice", sub)).catch(() => []);
  /** A job whose body, once read, has taken `writeMs` of (fake) time, the state unreachable. */
  const job = (writeMs: number): DeliveryJob => ({
    ...channelJob({ rcpts: ["alice@example.test"], body: MESSAGE, envelope: { arrival: clock.now() } }),
    body: () =>
      Readable.from(
        (function* () {
          reachable = false;
          clock.advance(writeMs);
          yield Buffer.from(MESSAGE);
        })(),
      ),
  });
  return { mailbox, files, job, logs, real, clock };
}

void test("a store that reaches the rename with less than the margin left on its lease is abandoned (4xx), nothing published", async (t) => {
  const r = await rig(t);
  // 13.5 s of writing with no renewal: 1.5 s of the lease left, less than the 2 s margin.
  const [out] = await r.mailbox.deliver(r.job(LEASE_MS - 1_500));
  assert.equal(out?.kind, "deferred", JSON.stringify(out));
  assert.equal(out.reply.code, 451);
  assert.match(out.reply.enhanced ?? "", /^4\./);
  assert.deepEqual(await r.files("new"), []);
  assert.deepEqual(await r.files("tmp"), []);
  assert.ok(r.logs.records.some((l) => l.text === "mailbox write fenced off"));
  assert.ok(r.logs.records.some((l) => l.text === "store abandoned"));
});

void test("a store with room to spare on its lease is published", async (t) => {
  const r = await rig(t);
  // 5 s of writing, renewals failing: 10 s left, well over the margin.
  const [out] = await r.mailbox.deliver(r.job(5_000));
  assert.equal(out?.kind, "delivered", JSON.stringify(out));
  assert.equal((await r.files("new")).length, 1);
});

void test("the mailbox store publishes nothing its fence refuses", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "mailyard-fence-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  let refuse: string | null = null;
  const asked: string[] = [];
  const store = createMaildirStore(root, memoryLogSink().for("LOCAL"), {
    fence: (account) => (asked.push(account), refuse),
  });
  const w = await store.begin("Example.test", "Alice", Buffer.from("Return-Path: <>\r\n"));
  await w.write(Buffer.from("x".repeat(200 * 1024)));
  refuse = "lease lost";
  await assert.rejects(
    w.commit(),
    (e: unknown) => e instanceof StoreFencedError && e.reason === "lease lost",
  );
  assert.deepEqual(asked, ["alice@example.test"]);
  const box = join(root, "example.test", "alice");
  assert.deepEqual(await readdir(join(box, "new")), []);
  assert.deepEqual(await readdir(join(box, "tmp")), []);
  refuse = null;
  await store.deliver("example.test", "alice", Readable.from([Buffer.from("Hi\r\n")]), Buffer.alloc(0));
  assert.equal((await readdir(join(box, "new"))).length, 1);
});

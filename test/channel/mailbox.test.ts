// The channel server in front of the real mailbox channel (SQLite directory, Maildir files), as a
// backend wires it: admit asks the directory, deliver is the local channel. What the sending
// node's client hears per recipient is what the mailbox channel decided, and the stored file
// holds the message as sent.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema } from "../../src/config/settings.js";
import { createLocalChannel } from "../../src/delivery/local.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import { REPLIES } from "../../src/proto/reply.js";
import { createMaildirStore } from "../../src/store/maildir.js";
import { FakeClock } from "../kit/clock.js";
import { silentLog } from "../kit/log.js";
import { backendAt, fakeBackend, job, startClient, startServer, summary } from "./fixtures.js";

test("client → channel server → mailbox channel: stored in Maildir, per-recipient answers", async (t) => {
  const tmp = await mkdtemp(join(tmpdir(), "mailyard-channel-mailbox-"));
  const dir = openSqliteDirectory(join(tmp, "mailyard.db"), new FakeClock());
  t.after(async () => {
    await dir.close();
    await rm(tmp, { recursive: true, force: true });
  });
  await dir.addDomain("example.test");
  await dir.addAccount("alice@example.test", "pw");
  await dir.addAccount("small@example.test", "pw", { maxMessageSize: 10 });
  const root = join(tmp, "mail");
  const local = createLocalChannel({
    directory: dir,
    store: createMaildirStore(root, silentLog("LOCAL")),
    settings: settingsSchema.parse({}),
    clock: new FakeClock(),
    log: silentLog("LOCAL"),
    hostname: "backend1.test",
  });
  const { port } = await startServer(t, fakeBackend(), {
    admit: async (a) => ((await dir.getAccount(a.toLowerCase())) === null ? REPLIES.unknownUser : null),
    deliver: (j) => local.deliver(j),
  });
  const { client } = startClient(t, backendAt(port));
  const body = "From: <sender@origin.test>\r\nSubject: via channel\r\n\r\n.\r\nbody\r\n";
  const out = await client.deliver(
    job({ rcpts: ["Alice@example.test", "nobody@example.test", "small@example.test"], body }),
  );
  assert.deepEqual(out.map(summary), [
    "delivered 250 2.0.0",
    "bounced 550 5.1.1 recipient",
    "bounced 552 5.3.4 recipient",
  ]);
  const newDir = join(root, "example.test", "alice", "new");
  const files = await readdir(newDir);
  assert.equal(files.length, 1);
  assert.equal(
    await readFile(join(newDir, files[0]!), "utf8"),
    `Return-Path: <sender@origin.test>\r\nDelivered-To: alice@example.test\r\n${body}`,
  );
});

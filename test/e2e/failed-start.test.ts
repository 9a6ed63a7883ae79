// A node whose start fails at a late step (the admin HTTP port is taken, after the queue, the
// SMTP, POP3 and delivery channel listeners and the stores are up) gives back everything it had
// started: the ports are free, no timer is left on its clock, and the data directory can be
// started again. The single server and a backend (a cluster role) alike.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema } from "../../src/config/settings.js";
import { startNode } from "../../src/server/node.js";
import { FakeClock } from "../kit/clock.js";
import { memoryLogSink } from "../kit/log.js";
import { freePort } from "../kit/ports.js";
import { fakeResolver } from "../kit/resolver.js";

const listen = (port: number): Promise<net.Server> =>
  new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(port, "127.0.0.1", () => resolve(s));
  });
const close = (s: net.Server): Promise<void> => new Promise((r) => s.close(() => r()));

void test("a single server whose HTTP port is taken stops what it started and can start again", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-failed-start-"));
  const busy = await listen(0);
  const busyPort = (busy.address() as net.AddressInfo).port;
  try {
    const [smtpPort, submissionPort, pop3Port] = [await freePort(), await freePort(), await freePort()];
    const settings = (http: string) =>
      settingsSchema.parse({
        dataDir,
        hostname: "mx.example.test",
        smtp: { listen: [`127.0.0.1:${smtpPort}`] },
        submission: { listen: [`127.0.0.1:${submissionPort}`] },
        submissions: { listen: [] },
        pop3: { listen: [`127.0.0.1:${pop3Port}`] },
        http: { listen: http },
        log: { stdout: false },
      });
    const clock = new FakeClock();
    const world = { clock, resolver: fakeResolver({}) };

    await assert.rejects(
      startNode(settings(`127.0.0.1:${busyPort}`), { log: memoryLogSink(), world }),
      (e: NodeJS.ErrnoException) => e.code === "EADDRINUSE",
    );
    assert.equal(clock.pending(), 0, "no timer is left on the node's clock");
    // The SMTP, submission and POP3 ports it had bound are free again.
    for (const port of [smtpPort, submissionPort, pop3Port]) await close(await listen(port));

    // The data directory's lock is released and the stores closed: the same node starts again.
    const node = await startNode(settings("127.0.0.1:0"), { log: memoryLogSink(), world });
    assert.equal(node.smtp[0]?.port, smtpPort);
    await node.stop();
  } finally {
    await close(busy);
    await rm(dataDir, { recursive: true, force: true });
  }
});

void test("a backend whose HTTP port is taken stops what it started and can start again", async () => {
  const root = await mkdtemp(join(tmpdir(), "mailyard-failed-start-"));
  const busy = await listen(0);
  const busyPort = (busy.address() as net.AddressInfo).port;
  try {
    const [smtpPort, channelPort] = [await freePort(), await freePort()];
    const settings = (http: string) =>
      settingsSchema.parse({
        role: "backend",
        node: { id: "b1" },
        dataDir: join(root, "b1"),
        hostname: "b1.cluster.test",
        state: { url: join(root, "state.db") },
        smtp: { listen: [`127.0.0.1:${smtpPort}`], outbound: { starttls: false } },
        submission: { listen: [] },
        submissions: { listen: [] },
        pop3: { listen: [] },
        http: { listen: http },
        channel: { listen: `127.0.0.1:${channelPort}` },
        cluster: { secret: "failed-start-test-secret-0123456789" },
        log: { stdout: false },
      });
    const clock = new FakeClock();
    const world = { clock, resolver: fakeResolver({}) };

    await assert.rejects(
      startNode(settings(`127.0.0.1:${busyPort}`), { log: memoryLogSink(), world }),
      (e: NodeJS.ErrnoException) => e.code === "EADDRINUSE",
    );
    assert.equal(clock.pending(), 0, "no timer is left on the node's clock");
    // The delivery channel port (bound before the HTTP listener) is free again.
    await close(await listen(channelPort));

    const node = await startNode(settings("127.0.0.1:0"), { log: memoryLogSink(), world });
    await node.stop();
  } finally {
    await close(busy);
    await rm(root, { recursive: true, force: true });
  }
});

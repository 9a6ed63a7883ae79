// A node whose start fails at a late step (the admin HTTP port is taken, after the queue, the
// SMTP, POP3 and delivery channel listeners and the stores are up) gives back everything it had
// started: the ports are free, no timer is left on its clock, and the data directory can be
// started again. The single server and the cluster roles alike (one composition root).
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema, type Settings } from "../../src/config/settings.js";
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

/**
 * Starts a node whose HTTP port is taken and checks that it gave back everything: the ports it
 * bound before the HTTP listener (`ports`), its clock's timers, and its data directory, which
 * then starts again. `settings(http)` are the node's settings with http.listen at `http`.
 */
async function failsAndStartsAgain(
  root: string,
  ports: readonly number[],
  settings: (http: string) => Settings,
): Promise<void> {
  const busy = await listen(0);
  const busyPort = (busy.address() as net.AddressInfo).port;
  try {
    const clock = new FakeClock();
    const world = { clock, resolver: fakeResolver({}) };
    await assert.rejects(
      startNode(settings(`127.0.0.1:${busyPort}`), { log: memoryLogSink(), world }),
      (e: NodeJS.ErrnoException) => e.code === "EADDRINUSE",
    );
    assert.equal(clock.pending(), 0, "no timer is left on the node's clock");
    for (const port of ports) await close(await listen(port));

    // The data directory's lock is released and the stores closed: the same node starts again.
    const node = await startNode(settings("127.0.0.1:0"), { log: memoryLogSink(), world });
    assert.equal(node.smtp[0]?.port, ports[0]);
    await node.stop();
  } finally {
    await close(busy);
    await rm(root, { recursive: true, force: true });
  }
}

const SECRET = "failed-start-test-secret-0123456789";

void test("a single server whose HTTP port is taken stops what it started and can start again", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-failed-start-"));
  const [smtpPort, submissionPort, submissionsPort, pop3Port] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  // The SMTP, submission (both) and POP3 ports it had bound are free again.
  await failsAndStartsAgain(dataDir, [smtpPort, submissionPort, submissionsPort, pop3Port], (http) =>
    settingsSchema.parse({
      dataDir,
      hostname: "mx.example.test",
      smtp: { listen: [`127.0.0.1:${smtpPort}`] },
      submission: { listen: [`127.0.0.1:${submissionPort}`] },
      submissions: { listen: [`127.0.0.1:${submissionsPort}`] },
      pop3: { listen: [`127.0.0.1:${pop3Port}`] },
      http: { listen: http },
      log: { stdout: false },
    }),
  );
});

void test("a backend whose HTTP port is taken stops what it started and can start again", async () => {
  const root = await mkdtemp(join(tmpdir(), "mailyard-failed-start-"));
  const [smtpPort, channelPort] = [await freePort(), await freePort()];
  // The SMTP and delivery channel ports (bound before the HTTP listener) are free again.
  await failsAndStartsAgain(root, [smtpPort, channelPort], (http) =>
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
      cluster: { secret: SECRET },
      log: { stdout: false },
    }),
  );
});

void test("a frontend whose HTTP port is taken stops what it started and can start again", async () => {
  const root = await mkdtemp(join(tmpdir(), "mailyard-failed-start-"));
  const [smtpPort, submissionPort, submissionsPort] = [await freePort(), await freePort(), await freePort()];
  await failsAndStartsAgain(root, [smtpPort, submissionPort, submissionsPort], (http) =>
    settingsSchema.parse({
      role: "frontend",
      node: { id: "f1" },
      dataDir: join(root, "f1"),
      hostname: "f1.cluster.test",
      state: { url: join(root, "state.db") },
      smtp: { listen: [`127.0.0.1:${smtpPort}`] },
      submission: { listen: [`127.0.0.1:${submissionPort}`] },
      submissions: { listen: [`127.0.0.1:${submissionsPort}`] },
      http: { listen: http },
      cluster: { secret: SECRET },
      log: { stdout: false },
    }),
  );
});

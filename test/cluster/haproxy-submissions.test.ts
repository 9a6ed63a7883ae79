// Port 465 through the balancer: `mailyard lb-config haproxy` reads the frontends' submissions
// addresses from the cluster state and emits a TCP frontend for them; a real HAProxy run with it
// passes the client's TLS through (PROXY header v2 first) to an in-process frontend, whose health
// check over TLS passes; swaks --tlsc logs in through it and the message lands on the backend,
// with a Received: line naming the real client (127.0.0.5), not the balancer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startHaproxy } from "../kit/haproxy.js";
import { swaks } from "../kit/swaks.js";
import { waitFor } from "../kit/load.js";
import { freePort } from "../kit/ports.js";
import { mailyard } from "../cli/run-cli.js";
import { addAccounts, startCluster, waitForMail } from "./fixtures.js";

const CLIENT = "127.0.0.5";

/** HAProxy's view of one server (its stats page as CSV): status and last check result. */
async function serverState(port: number, backend: string, server: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/;csv`, { signal: AbortSignal.timeout(5_000) });
  const rows = (await res.text()).split("\n").map((l) => l.split(","));
  const head = rows[0] ?? [];
  const row = rows.find((r) => r[0] === backend && r[1] === server);
  if (row === undefined) return "absent";
  return `${row[head.indexOf("status")]} ${row[head.indexOf("check_status")]}`;
}

test("lb-config's port 465 frontend: swaks --tlsc through HAProxy to a frontend's submissions listener", async (t) => {
  const frontend = {
    smtp: { proxyProtocolFrom: ["127.0.0.1/32"] },
    submissions: { listen: ["127.0.0.1:0"] },
  };
  const c = await startCluster(t, [
    { id: "f1", role: "frontend", extra: frontend },
    // No submissions listener: published as none, left out of the 465 backend.
    { id: "f2", role: "frontend", extra: { smtp: { proxyProtocolFrom: ["127.0.0.1/32"] } } },
    { id: "b1", role: "backend" },
  ]);
  await addAccounts(c, { "alice@example.test": "b1", "bob@example.test": "b1" });
  const f1 = c.node("f1").submissions[0]!.port;
  const f1Record = (await c.state.members()).find((m) => m.id === "f1");
  assert.equal(f1Record?.submissions, `127.0.0.1:${f1}`, "f1 publishes its submissions address");

  const cfg = await mailyard([
    "lb-config",
    "haproxy",
    "--listen",
    "127.0.0.1:1",
    "--submissions-listen",
    "127.0.0.1:2",
    "--set",
    `state.url=${join(c.root, "state.db")}`,
    // The members' heartbeats are stamped with the cluster's fake clock, which does not move here.
    "--set",
    "cluster.downAfterSeconds=300",
  ]);
  assert.equal(cfg.code, 0, cfg.err);
  assert.match(
    cfg.out,
    new RegExp(`server f1 127\\.0\\.0\\.1:${f1} check check-ssl verify none send-proxy-v2`),
  );
  assert.doesNotMatch(cfg.out, /server f2 \S+ check check-ssl/);

  const tlsPort = await freePort();
  const stats = await freePort();
  const lb = await startHaproxy(
    (port) =>
      cfg.out
        .replace(/bind 127\.0\.0\.1:1$/m, `bind 127.0.0.1:${port}`)
        .replace(/bind 127\.0\.0\.1:2$/m, `bind 127.0.0.1:${tlsPort}`) +
      `\nlisten stats\n    mode http\n    bind 127.0.0.1:${stats}\n    timeout client 30s\n    stats enable\n    stats uri /\n`,
  );
  t.after(() => lb.stop());

  // The health check (PROXY header, TLS handshake, greeting, EHLO) passes: L7OK, not just "up at start".
  let state = "";
  await waitFor(
    "f1's TLS health check",
    async () => {
      state = await serverState(stats, "mailyard_frontends_submissions", "f1");
      return state === "UP L7OK";
    },
    20_000,
  ).catch((e: unknown) => {
    throw new Error(`f1 is "${state}" at the balancer; ${lb.output()}`, { cause: e });
  });

  const sent = await swaks([
    "--server",
    `127.0.0.1:${tlsPort}`,
    "--local-interface",
    CLIENT,
    "--tlsc",
    "--helo",
    "client.test",
    "--timeout",
    "20",
    "--from",
    "alice@example.test",
    "--to",
    "bob@example.test",
    "--auth",
    "PLAIN",
    "--auth-user",
    "alice@example.test",
    "--auth-password",
    "alice@example.test-pw",
    "--header",
    "Subject: 465 through the balancer",
  ]);
  assert.equal(sent.code, 0, sent.out);
  assert.match(sent.out, /TLS started/);
  assert.match(sent.out, /220 f1\.cluster\.test/, "greeted by f1 inside the TLS session");

  const [mail] = await waitForMail(c, "b1", "bob@example.test");
  assert.match(mail!, /Subject: 465 through the balancer/);
  assert.match(
    mail!,
    /Received: from client\.test \(\[127\.0\.0\.5\]\)\r\n\tby f1\.cluster\.test \(Mailyard\) with ESMTPSA/,
  );
});

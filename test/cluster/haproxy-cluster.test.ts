// The whole inbound path of a cluster: a real HAProxy, configured by `mailyard lb-config
// haproxy` from the live frontends in the state file, in front of two in-process frontends
// (PROXY protocol v2 from the balancer only) and a backend. A client at 127.0.0.5 relays and
// delivers through the balancer; the frontends see it, not HAProxy, and its mail lands in the
// backend's Maildir with a Received: line naming the real client.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startHaproxy } from "../kit/haproxy.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { mailyard } from "../cli/run-cli.js";
import { join } from "node:path";
import { addAccounts, startCluster, waitForMail } from "./fixtures.js";

const CLIENT = "127.0.0.5";

test("HAProxy from lb-config in front of two frontends: the real client's mail lands on its backend", async (t) => {
  const frontend = { smtp: { proxyProtocolFrom: ["127.0.0.1/32"], relayNetworks: [`${CLIENT}/32`] } };
  const c = await startCluster(t, [
    { id: "f1", role: "frontend", extra: frontend },
    { id: "f2", role: "frontend", extra: frontend },
    { id: "b1", role: "backend" },
  ]);
  await addAccounts(c, { "alice@example.test": "b1" });

  const cfg = await mailyard([
    "lb-config",
    "haproxy",
    "--listen",
    "127.0.0.1:1",
    "--set",
    `state.url=${join(c.root, "state.db")}`,
    // The members' heartbeats are stamped with the cluster's fake clock, which does not move here.
    "--set",
    "cluster.downAfterSeconds=300",
  ]);
  assert.equal(cfg.code, 0, cfg.err);
  for (const id of ["f1", "f2"])
    assert.match(cfg.out, new RegExp(`server ${id} 127\\.0\\.0\\.1:${c.node(id).smtp[0]!.port} check`));
  assert.doesNotMatch(cfg.out, /server b1 /);
  const lb = await startHaproxy((port) => cfg.out.replace(/bind 127\.0\.0\.1:1$/m, `bind 127.0.0.1:${port}`));
  t.after(() => lb.stop());

  const s = await SmtpClient.connect(lb.port, "127.0.0.1", CLIENT);
  t.after(() => s.close());
  await s.expect(220);
  await s.cmd("EHLO client.test", 250);
  await s.cmd("MAIL FROM:<someone@remote.test>", 250);
  await s.cmd("RCPT TO:<alice@example.test>", 250);
  await s.cmd("RCPT TO:<ghost@example.test>", 550);
  await s.cmd("DATA", 354);
  await s.cmd("Subject: through the balancer\r\n\r\nhi\r\n.", 250);
  await s.cmd("QUIT", 221);

  const [mail] = await waitForMail(c, "b1", "alice@example.test");
  assert.match(
    mail!,
    /Received: from client\.test \(\[127\.0\.0\.5\]\)\r\n\tby f[12]\.cluster\.test \(Mailyard\)/,
  );
  assert.match(mail!, /Subject: through the balancer/);
});

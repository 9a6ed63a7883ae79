// A drained frontend as the balancer sees it (issue 16 item 3): a real HAProxy with the config
// `lb-config haproxy` renders (option smtpchk) in front of two frontend processes; its check
// fails on the drained frontend's 421 and takes it out, clients reach the other one only, and
// the check passes again after the undrain.
import { test } from "node:test";
import assert from "node:assert/strict";
import { renderHaproxyConfig } from "../../src/cluster/haproxy.js";
import { startHaproxy } from "../kit/haproxy.js";
import { waitFor } from "../kit/load.js";
import { freePort } from "../kit/ports.js";
import { cli, greeting } from "./drain-kit.js";
import { startProcCluster } from "./processes-kit.js";

void test("the balancer sees a drained frontend down: HAProxy's SMTP check fails on the 421, passes after undrain", async (t) => {
  const c = await startProcCluster(t, ["smtp.proxyProtocolFrom=127.0.0.2/32"]);
  await c.start("b1", "backend");
  const f1 = await c.start("f1", "frontend");
  const f2 = await c.start("f2", "frontend");
  await c.waitLive([f1, f2], ["b1", "f1", "f2"]);
  const stats = await freePort();
  const lb = await startHaproxy((port) =>
    renderHaproxyConfig({
      listen: `127.0.0.1:${port}`,
      frontends: [f1, f2].map((m) => ({ id: m.id, smtp: `127.0.0.1:${m.smtp}` })),
      proxyVersion: 2,
      source: "127.0.0.2",
      statsListen: `127.0.0.1:${stats}`,
    }),
  );
  t.after(() => lb.stop());
  const status = async (id: string): Promise<string> => {
    const csv = await (await fetch(`http://127.0.0.1:${stats}/;csv`)).text();
    const [head = "", ...rows] = csv.split("\n");
    const col = head.replace(/^# /, "").split(",").indexOf("status");
    return rows.map((r) => r.split(",")).find((r) => r[1] === id)?.[col] ?? "";
  };
  await waitFor(
    "both frontends up in HAProxy",
    async () => (await status("f1")) === "UP" && (await status("f2")) === "UP",
    30_000,
  );

  const asked = await cli(c, ["node", "drain", "f1", "--timeout", "30"]);
  assert.equal(asked.code, 0, asked.err);
  await waitFor("HAProxy marks f1 down", async () => /^DOWN/.test(await status("f1")), 30_000);
  assert.match(await status("f2"), /^UP/);
  // Through the balancer, clients reach f2 only.
  for (let i = 0; i < 3; i++) assert.match((await greeting(lb.port)) ?? "", /^220 f2\.cluster\.test /);

  const back = await cli(c, ["node", "undrain", "f1"]);
  assert.equal(back.code, 0, back.err);
  await waitFor("HAProxy marks f1 up again", async () => (await status("f1")) === "UP", 30_000);
});

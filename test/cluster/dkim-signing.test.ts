// DKIM in a cluster: the key is made once in the shared state; a backend hands its mail (here as
// the submission API would) to the frontend unsigned, over XSUBMIT (Submit Messages Remotely)
// or from its own queue through smtp.forwardTo "*" (Locally), and the frontend relays it signed
// exactly once: Postfix's smtp-sink sees one DKIM-Signature and no Authentication-Results
// (neither path is mail from outside: XSUBMIT skips the inbound hooks, the backend is in the
// frontend's smtp.relayNetworks).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { dkimVerify } from "mailauth";
import { generateDkimKey, dnsName, dnsRecord } from "../../src/delivery/dkim/keys.js";
import { openSqliteDkimStore } from "../../src/delivery/dkim/sqlite-store.js";
import { mailauthResolver } from "../../src/inbound/mailauth-dns.js";
import type { EnvelopeDraft } from "../../src/queue/types.js";
import { waitFor } from "../kit/load.js";
import { fakeResolver } from "../kit/resolver.js";
import { startSink } from "../kit/sink.js";
import { addAccounts, startCluster } from "./fixtures.js";

for (const mode of ["Remotely", "Locally"] as const) {
  const how = mode === "Remotely" ? "over XSUBMIT" : "from its own queue through smtp.forwardTo *";
  void test(`${mode}: a backend's mail (${how}) is signed once, by the frontend that relays it`, async (t) => {
    const sink = await startSink();
    t.after(() => sink.stop());
    const c = await startCluster(t, [
      {
        id: "f1",
        role: "frontend",
        extra: {
          smtp: { forwardTo: [`127.0.0.1:${sink.port}`] },
          cluster: { submitMessages: "Locally for Others" },
        },
      },
      {
        id: "b1",
        role: "backend",
        extra: { smtp: { forwardTo: ["*"] }, cluster: { submitMessages: mode } },
      },
    ]);
    await addAccounts(c, { "alice@example.test": "b1" });
    const key = generateDkimKey("example.test", "c1", "rsa", Date.now());
    const keys = openSqliteDkimStore(join(c.root, "state.db"));
    assert.equal(await keys.add(key), true);
    await keys.close();

    const draft: EnvelopeDraft = {
      returnPath: "alice@example.test",
      recipients: [{ address: "dave@remote.test", original: null, notify: null, orcpt: null }],
      ret: null,
      envid: null,
      body: "7BIT",
      smtputf8: false,
      source: "api",
      authUser: "alice@example.test",
      client: null,
      arrival: Date.now(),
    };
    const out = await c
      .node("b1")
      .submitter.submit(draft, Buffer.from("From: <alice@example.test>\r\nSubject: once\r\n\r\nHello.\r\n"));
    assert.ok(out.ok && out.remote === (mode === "Remotely"), JSON.stringify(out));
    await waitFor("relayed by f1", async () => (await sink.count()) === 1);
    const [m = ""] = (await sink.messages()).map((x) => x.replace(/\r?\n/g, "\r\n"));
    const head = m.slice(0, m.indexOf("\r\n\r\n"));
    assert.equal(head.match(/^DKIM-Signature:/gim)?.length, 1, head);
    assert.match(head, /d=example\.test;[^]*s=c1;/);
    assert.doesNotMatch(head, /^Authentication-Results:/im);
    const resolver = mailauthResolver(fakeResolver({ txt: { [dnsName(key)]: [dnsRecord(key)] } }));
    const [r] = (await dkimVerify(Buffer.from(m), { resolver: resolver as never })).results;
    assert.equal(r?.status.result, "pass");
  });
}

// The extension points later issues use: extra verbs (with EHLO keywords) and the preamble that
// will read a PROXY header before the greeting.
import { test } from "node:test";
import assert from "node:assert/strict";
import { settingsSchema } from "../../src/config/settings.js";
import { noMetrics } from "../../src/log/metrics.js";
import { reply } from "../../src/proto/reply.js";
import { createSmtpServer } from "../../src/smtp/server/listener.js";
import { verbRegistry } from "../../src/smtp/server/registry.js";
import type { Verb } from "../../src/smtp/server/verb.js";
import { systemClock } from "../../src/world/clock.js";
import { silentLog } from "../kit/log.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { testHandler } from "../kit/smtp-handler.js";
import { startTestServer } from "../kit/smtp-server.js";

const xecho: Verb = {
  name: "XECHO",
  advertise: (s) => (s.authUser === null ? ["XECHO"] : []),
  run(s, arg) {
    s.reply(reply(250, "2.0.0", `echo ${arg} from ${s.info().remote.address}`));
    return Promise.resolve();
  },
};

test("an extra verb is dispatched and advertised", async (t) => {
  const srv = await startTestServer({ extraVerbs: [xecho] });
  t.after(() => srv.close());
  const c = await SmtpClient.connect(srv.port);
  await c.expect(220);
  const ehlo = await c.cmd("EHLO client.test", 250);
  assert.equal(ehlo.lines.at(-1), "XECHO");
  assert.equal((await c.cmd("xecho hi")).raw, "250 2.0.0 echo hi from 127.0.0.1\r\n");
  c.close();
});

test("an extra verb may not replace a core verb", () => {
  assert.throws(() => verbRegistry([{ ...xecho, name: "DATA" }]), /defined twice/);
});

test("the preamble runs before the greeting and may name the real client", async (t) => {
  const handler = testHandler();
  const server = createSmtpServer({
    settings: settingsSchema.parse({ hostname: "mx.test" }),
    listener: "smtp",
    handler,
    log: silentLog("SMTPI"),
    clock: systemClock,
    metrics: noMetrics,
    tls: null,
    extraVerbs: [xecho],
    preamble: async (socket) => {
      // Stand-in for a PROXY header: one line, read before anything else.
      const line = await new Promise<string>((resolve) => {
        const attempt = (): void => {
          const b = socket.read(16) as Buffer | null;
          if (b !== null) resolve(b.toString());
          else socket.once("readable", attempt);
        };
        attempt();
      });
      assert.equal(line, "REAL 192.0.2.7\r\n");
      return { address: "192.0.2.7", port: 4000 };
    },
  });
  const { port } = await server.listen("127.0.0.1", 0);
  t.after(() => server.close());
  const c = await SmtpClient.connect(port);
  c.send("REAL 192.0.2.7\r\n");
  await c.expect(220);
  await c.cmd("EHLO client.test", 250);
  assert.equal((await c.cmd("XECHO x")).raw, "250 2.0.0 echo x from 192.0.2.7\r\n");
  assert.ok(handler.calls.includes("connect 192.0.2.7"));
  c.close();
});

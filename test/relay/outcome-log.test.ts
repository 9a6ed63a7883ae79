// The per-recipient log line after a relay delivery, the same as the delivery channel's (one
// logger, src/smtp/client/outcome-log.ts): a recipient that was not delivered is logged at
// `problem` (level 3), a delivered one at `low` (level 4).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRelayChannel } from "../../src/delivery/relay.js";
import { LEVELS } from "../../src/log/logger.js";
import { startFakeSmtpServer } from "../kit/fake-smtp-server.js";
import { memoryLogSink } from "../kit/log.js";
import { fakeResolver } from "../kit/resolver.js";
import { tcpDialer } from "../../src/world/dialer.js";
import { job, relaySettings, WatchedClock } from "./fixtures.js";

test("relay: failed recipients are logged at problem, delivered ones at low", async (t) => {
  const server = await startFakeSmtpServer({
    script: (line) => (line.startsWith("RCPT TO:<bad@") ? "550 5.1.1 No such user" : undefined),
  });
  const logs = memoryLogSink();
  const relay = createRelayChannel({
    settings: relaySettings(server.port),
    resolver: fakeResolver({
      mx: { "example.test": { kind: "ok", records: [{ exchange: "mx1.example.test", priority: 10 }] } },
      addresses: { "mx1.example.test": { kind: "ok", records: ["127.0.0.1"] } },
    }),
    dialer: tcpDialer,
    clock: new WatchedClock(),
    log: logs.for("SMTP"),
    hostname: "relay.test",
  });
  t.after(async () => {
    await relay.close();
    await server.close();
  });
  const out = await relay.deliver(job({ rcpts: ["a@example.test", "bad@example.test"] }));
  assert.deepEqual(
    out.map((o) => o.kind),
    ["delivered", "bounced"],
  );
  const lines = logs.records.filter((r) => r.text === "recipient delivery attempt");
  assert.deepEqual(
    lines.map((r) => `${String(r.fields.to)} ${String(r.fields.status)} ${r.level}`),
    [`a@example.test sent ${LEVELS.low}`, `bad@example.test bounced ${LEVELS.problem}`],
  );
});

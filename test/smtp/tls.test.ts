// TLS material: a self-signed pair made once under <dataDir>/tls and reused; configured PEM files.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema } from "../../src/config/settings.js";
import { loadOrCreateTls } from "../../src/smtp/server/tls.js";
import { memoryLogSink } from "../kit/log.js";

test("self-signed pair is created once, private, and reused", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-tls-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const sink = memoryLogSink();
  const settings = settingsSchema.parse({ hostname: "mx.test" });
  await loadOrCreateTls(settings, dir, sink.for("SYSTEM"));
  const cert = await readFile(join(dir, "tls", "cert.pem"), "utf8");
  assert.match(cert, /BEGIN CERTIFICATE/);
  assert.equal((await stat(join(dir, "tls", "key.pem"))).mode & 0o777, 0o600);
  await loadOrCreateTls(settings, dir, sink.for("SYSTEM"));
  assert.equal(await readFile(join(dir, "tls", "cert.pem"), "utf8"), cert, "not regenerated");
  assert.equal(sink.records.filter((r) => r.text === "TLS self-signed certificate created").length, 1);

  // Configured files are used as given; one without the other is a configuration error.
  const configured = settingsSchema.parse({
    smtp: { tls: { cert: join(dir, "tls", "cert.pem"), key: join(dir, "tls", "key.pem") } },
  });
  await loadOrCreateTls(configured, join(dir, "elsewhere"), sink.for("SYSTEM"));
  await assert.rejects(stat(join(dir, "elsewhere", "tls")), "nothing generated when files are configured");
  const half = settingsSchema.parse({ smtp: { tls: { cert: join(dir, "tls", "cert.pem") } } });
  await assert.rejects(loadOrCreateTls(half, dir, sink.for("SYSTEM")), /both cert and key/);
});

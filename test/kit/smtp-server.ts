// Starts the Mailyard SMTP engine on 127.0.0.1:0 with the scriptable test handler, a memory log
// and (optionally) a fake clock and TLS, for engine tests. The caller stops it with close().
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SecureContext } from "node:tls";
import { settingsSchema, type Settings } from "../../src/config/settings.js";
import { noMetrics, type Metrics } from "../../src/log/metrics.js";
import { createSmtpServer, type SmtpServer, type SmtpServerOptions } from "../../src/smtp/server/listener.js";
import { loadOrCreateTls } from "../../src/smtp/server/tls.js";
import { systemClock, type Clock } from "../../src/world/clock.js";
import { memoryLogSink } from "./log.js";
import { testHandler, type TestHandler } from "./smtp-handler.js";

export interface TestServer {
  readonly port: number;
  readonly server: SmtpServer;
  readonly handler: TestHandler;
  readonly settings: Settings;
  readonly logs: ReturnType<typeof memoryLogSink>["records"];
  close(): Promise<void>;
}

export interface TestServerOptions {
  readonly smtp?: Record<string, unknown>;
  readonly handler?: TestHandler;
  readonly clock?: Clock;
  readonly tls?: boolean;
  readonly metrics?: Metrics;
  readonly extraVerbs?: SmtpServerOptions["extraVerbs"];
  readonly listener?: "smtp" | "submission";
}

let sharedTls: Promise<SecureContext> | null = null;

/** One self-signed pair per test process (key generation takes a moment). */
export function testTls(): Promise<SecureContext> {
  sharedTls ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "mailyard-tls-"));
    try {
      return await loadOrCreateTls(
        settingsSchema.parse({ hostname: "mx.test" }),
        dir,
        memoryLogSink().for("SYSTEM"),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return sharedTls;
}

export async function startTestServer(o: TestServerOptions = {}): Promise<TestServer> {
  const settings = settingsSchema.parse({ hostname: "mx.test", smtp: { ...o.smtp } });
  const sink = memoryLogSink();
  const handler = o.handler ?? testHandler();
  const server = createSmtpServer({
    settings,
    listener: o.listener ?? "smtp",
    handler,
    log: sink.for("SMTPI"),
    clock: o.clock ?? systemClock,
    metrics: o.metrics ?? noMetrics,
    tls: o.tls === true ? await testTls() : null,
    ...(o.extraVerbs ? { extraVerbs: o.extraVerbs } : {}),
  });
  const { port } = await server.listen("127.0.0.1", 0);
  return { port, server, handler, settings, logs: sink.records, close: () => server.close() };
}

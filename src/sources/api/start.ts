// Starts the submission API source: the idempotency key store (dataDir/submit-keys.db), the
// login check (auth.ts) and the routes (routes.ts), mounted on the node's HTTP server. Off with
// submitApi.enabled = false.
import { join, resolve } from "node:path";
import type { SourceContext, StartedSource } from "../context.js";
import { createAuthenticator } from "./auth.js";
import { openIdempotencyStore } from "./idempotency.js";
import { submissionApi } from "./routes.js";

export function startSubmissionApi(ctx: SourceContext): Promise<StartedSource> {
  const { settings } = ctx;
  if (!settings.submitApi.enabled) return Promise.resolve({ close: () => Promise.resolve() });
  const log = ctx.log.for("API");
  const keys = openIdempotencyStore(
    join(resolve(settings.dataDir), "submit-keys.db"),
    ctx.clock,
    settings.submitApi.idempotencySeconds * 1000,
  );
  const auth = createAuthenticator({ directory: ctx.directory, login: ctx.login, log });
  const http = submissionApi({
    directory: ctx.directory,
    submitter: ctx.submitter,
    auth,
    keys,
    clock: ctx.clock,
    random: ctx.random,
    hostname: settings.hostname,
    maxMessageSize: settings.smtp.maxMessageSize,
    header: settings.smtp,
    log,
  });
  log.major("submission API ready", { path: "/submit/v1/", source: "api" });
  return Promise.resolve({
    http,
    close() {
      keys.close();
      return Promise.resolve();
    },
  });
}

// Starts the Submitted folder source (folder.ts) with the node's settings: the folder
// (submitted.dir, default dataDir/Submitted), the poll interval and the size limit. Off with
// submitted.enabled = false.
import { submittedDir } from "../../config/paths.js";
import type { SourceContext, StartedSource } from "../context.js";
import { startSubmittedFolder } from "./folder.js";

export async function startSubmittedSource(ctx: SourceContext): Promise<StartedSource> {
  const { settings } = ctx;
  if (!settings.submitted.enabled) return { close: () => Promise.resolve() };
  const folder = await startSubmittedFolder({
    dir: submittedDir(settings),
    pollMs: settings.submitted.pollSeconds * 1000,
    maxMessageSize: settings.smtp.maxMessageSize,
    header: settings.smtp,
    hostname: settings.hostname,
    submitter: ctx.submitter,
    clock: ctx.clock,
    random: ctx.random,
    log: ctx.log.for("PIPE"),
  });
  return { close: () => folder.close() };
}

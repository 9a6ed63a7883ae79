// Starts the sendmail source: the admin-API route `mailyard sendmail` submits through
// (route.ts). Messages it could not hand over wait in the Submitted folder instead.
import type { SourceContext, StartedSource } from "../context.js";
import { sendmailRoute } from "./route.js";

export function startSendmailSource(ctx: SourceContext): Promise<StartedSource> {
  return Promise.resolve({ http: sendmailRoute(ctx), close: () => Promise.resolve() });
}

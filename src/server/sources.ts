// The message sources a node runs (src/sources/*, DESIGN.md §1): started after the queue and
// the listeners, stopped before the queue. Single servers and backends run them all; frontends
// run none (they have no mailboxes; SMTP submission is a listener, not a source).
import type http from "node:http";
import { startSubmissionApi } from "../sources/api/start.js";
import type { SourceContext, StartedSource } from "../sources/context.js";
import { startSendmailSource } from "../sources/pipe/start.js";
import { startSubmittedSource } from "../sources/submitted/start.js";
import { startPop3Source } from "../sources/pop3/source.js";
import { startRpopSource } from "../sources/rpop/source.js";

export type SourceStarter = (ctx: SourceContext) => Promise<StartedSource>;

/** Every source, in start order. */
const STARTERS: readonly SourceStarter[] = [
  startSubmissionApi,
  startSendmailSource,
  startSubmittedSource,
  startPop3Source,
  startRpopSource,
];

export interface RunningSources {
  /** The sources' HTTP routes, tried in order. */
  http(req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean>;
  /** The addresses the sources' listeners of one kind ("pop3") are bound to. */
  listening(kind: string): { address: string; port: number }[];
  close(): Promise<void>;
}

export async function startSources(ctx: SourceContext): Promise<RunningSources> {
  const started: StartedSource[] = [];
  const close = async (): Promise<void> => {
    for (const s of started.reverse()) await s.close();
  };
  try {
    for (const start of STARTERS) started.push(await start(ctx));
  } catch (e) {
    await close();
    throw e;
  }
  const routes = started.flatMap((s) => (s.http === undefined ? [] : [s.http]));
  return {
    async http(req, res) {
      for (const r of routes) if (await r(req, res)) return true;
      return false;
    },
    listening: (kind) =>
      started
        .flatMap((s) => (s.listening ?? []).filter((l) => l.kind === kind))
        .map((l) => ({
          address: l.address,
          port: l.port,
        })),
    close,
  };
}

// The named scenarios and their sizes (full and --quick). Message scenarios send a Workload;
// the idle scenario holds connections open after greeting and EHLO and weighs them. A filtered
// scenario runs both MTAs with the same filter (bench/filters.ts); the filtered ones are sized
// so that one runs in a couple of minutes on a 2-core machine, as the filter is the slow part.
import type { FilterName } from "./filters.js";
import type { Workload } from "./workload.js";

export type Scenario =
  | {
      readonly kind: "messages";
      readonly name: string;
      readonly title: string;
      readonly workload: Workload;
      /** Both MTAs filter or sign with this (bench/filters.ts). */
      readonly filter?: FilterName;
      /** Also run Mailyard without the filter each round, to weigh the filter's cost to it. */
      readonly baseline?: boolean;
    }
  | { readonly kind: "idle"; readonly name: string; readonly title: string; readonly connections: number };

export const SCENARIO_NAMES = [
  "relay-2k",
  "relay-100k",
  "fanout-50",
  "local-100",
  "idle-1000",
  "relay-2k-rspamd",
  "local-100-rspamd",
  "relay-2k-dkim",
] as const;

/**
 * What a run without --scenario runs: the unfiltered scenarios. The filtered ones need rspamd and
 * OpenDKIM and minutes of rspamd start-up, so they are asked for by name.
 */
export const DEFAULT_SCENARIOS: readonly string[] = SCENARIO_NAMES.filter(
  (n) => !n.endsWith("-rspamd") && !n.endsWith("-dkim"),
);

/** Mailboxes u0..u99@example.test exist in every run of both MTAs, whatever the scenario. */
export const MAILBOXES = 100;

export function scenario(name: string, quick: boolean): Scenario | null {
  const q = (full: number, small: number): number => (quick ? small : full);
  const messages = (
    title: string,
    w: Omit<Workload, "mailboxes">,
    extra: { filter?: FilterName; baseline?: boolean } = {},
  ): Scenario => ({
    kind: "messages",
    name,
    title: `${title}: ${w.messages} messages × ${w.messageBytes / 1024} KB, ${w.recipients} rcpt each, ${w.sessions} sessions`,
    workload: { ...w, mailboxes: MAILBOXES },
    ...extra,
  });
  switch (name) {
    case "relay-2k":
      return messages("relay to the sink", {
        kind: "relay",
        messages: q(5000, 1000),
        sessions: 20,
        messageBytes: 2048,
        recipients: 1,
      });
    case "relay-100k":
      return messages("relay to the sink", {
        kind: "relay",
        messages: q(1000, 200),
        sessions: 20,
        messageBytes: 102_400,
        recipients: 1,
      });
    case "fanout-50":
      return messages("one message to 50 recipients at the sink", {
        kind: "fanout",
        messages: q(200, 40),
        sessions: 20,
        messageBytes: 2048,
        recipients: 50,
      });
    case "local-100":
      return messages(`local delivery into ${MAILBOXES} Maildirs, round-robin`, {
        kind: "local",
        messages: q(5000, 1000),
        sessions: 20,
        messageBytes: 2048,
        recipients: 1,
      });
    case "relay-2k-rspamd":
      return messages(
        "relay to the sink through rspamd (milter)",
        { kind: "relay", messages: q(2000, 300), sessions: 20, messageBytes: 2048, recipients: 1 },
        { filter: "rspamd", baseline: true },
      );
    case "local-100-rspamd":
      return messages(
        `local delivery into ${MAILBOXES} Maildirs through rspamd (milter)`,
        { kind: "local", messages: q(2000, 300), sessions: 20, messageBytes: 2048, recipients: 1 },
        { filter: "rspamd", baseline: true },
      );
    case "relay-2k-dkim":
      return messages(
        "relay to the sink, DKIM-signed (Postfix: OpenDKIM milter)",
        { kind: "relay", messages: q(2000, 300), sessions: 20, messageBytes: 2048, recipients: 1 },
        { filter: "dkim", baseline: true },
      );
    case "idle-1000": {
      const connections = q(1000, 200);
      return {
        kind: "idle",
        name,
        title: `${connections} idle connections after greeting and EHLO`,
        connections,
      };
    }
    default:
      return null;
  }
}

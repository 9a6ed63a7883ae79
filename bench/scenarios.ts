// The named scenarios and their sizes (full and --quick). Message scenarios send a Workload;
// the idle scenario holds connections open after greeting and EHLO and weighs them. A filtered
// scenario runs both MTAs with the same filter (bench/filters.ts); the filtered ones are sized
// so that one runs in a couple of minutes on a 2-core machine, as the filter is the slow part.
import type { ClusterPath } from "./cluster.js";
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
      /** Through HAProxy to a cluster (Mailyard) or Postfix, bench/cluster.ts. */
      readonly cluster?: ClusterPath;
    }
  | { readonly kind: "idle"; readonly name: string; readonly title: string; readonly connections: number };

export const SCENARIO_NAMES = [
  "relay-2k",
  "mx-2k",
  "relay-100k",
  "fanout-50",
  "local-100",
  "idle-1000",
  "relay-2k-rspamd",
  "local-100-rspamd",
  "relay-2k-dkim",
  "cluster-local",
  "cluster-relay",
] as const;

/**
 * What a run without --scenario runs: the unfiltered single-server scenarios. The filtered ones
 * need rspamd and OpenDKIM and minutes of rspamd start-up, and the cluster ones HAProxy, Dovecot
 * and two members per run, so both are asked for by name.
 */
export const DEFAULT_SCENARIOS: readonly string[] = SCENARIO_NAMES.filter(
  (n) => !n.endsWith("-rspamd") && !n.endsWith("-dkim") && !n.startsWith("cluster-"),
);

/** mx-2k's client addresses: 127.0.0.2 .. 127.0.0.251. */
const MX_SOURCES = 250;

/** Mailboxes u0..u99@example.test exist in every run of both MTAs, whatever the scenario. */
export const MAILBOXES = 100;

export function scenario(name: string, quick: boolean): Scenario | null {
  const q = (full: number, small: number): number => (quick ? small : full);
  const messages = (
    title: string,
    w: Omit<Workload, "mailboxes">,
    extra: { filter?: FilterName; baseline?: boolean; cluster?: ClusterPath } = {},
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
    case "mx-2k": {
      const m = messages("relay to the sink, one message per connection (an MX's traffic)", {
        kind: "relay",
        messages: q(5000, 1000),
        sessions: 20,
        messageBytes: 2048,
        recipients: 1,
        mx: { sources: MX_SOURCES },
      });
      return {
        ...m,
        title:
          `${m.title.replace(/, 20 sessions$/, "")}, 20 connections at a time, HELO or EHLO, ` +
          `no pipelining, from ${MX_SOURCES} client addresses on 127/8`,
      };
    }
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
    case "cluster-local":
      return messages(
        `HAProxy → frontend → backend → ${MAILBOXES} Maildirs (Postfix: → Dovecot LMTP → Maildirs)`,
        { kind: "local", messages: q(5000, 1000), sessions: 20, messageBytes: 2048, recipients: 1 },
        { cluster: "local" },
      );
    case "cluster-relay":
      return messages(
        "HAProxy → frontend → the sink (Postfix: HAProxy → Postfix → the sink)",
        { kind: "relay", messages: q(5000, 1000), sessions: 20, messageBytes: 2048, recipients: 1 },
        { cluster: "relay" },
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

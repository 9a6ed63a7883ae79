// The named scenarios and their sizes (full and --quick). Message scenarios send a Workload;
// the idle scenario holds connections open after greeting and EHLO and weighs them.
import type { Workload } from "./workload.js";

export type Scenario =
  | { readonly kind: "messages"; readonly name: string; readonly title: string; readonly workload: Workload }
  | { readonly kind: "idle"; readonly name: string; readonly title: string; readonly connections: number };

export const SCENARIO_NAMES = ["relay-2k", "relay-100k", "fanout-50", "local-100", "idle-1000"] as const;

/** Mailboxes u0..u99@example.test exist in every run of both MTAs, whatever the scenario. */
export const MAILBOXES = 100;

export function scenario(name: string, quick: boolean): Scenario | null {
  const q = (full: number, small: number): number => (quick ? small : full);
  const messages = (title: string, w: Omit<Workload, "mailboxes">): Scenario => ({
    kind: "messages",
    name,
    title: `${title}: ${w.messages} messages × ${w.messageBytes / 1024} KB, ${w.recipients} rcpt each, ${w.sessions} sessions`,
    workload: { ...w, mailboxes: MAILBOXES },
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

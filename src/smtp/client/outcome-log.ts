// The one log line per recipient after a delivery attempt over SMTP or LMTP (the relay and the
// delivery channel), as Postfix logs it: to=, relay=, delay=, dsn=, status=. A recipient that
// was not delivered (deferred or bounced) is logged at `problem`, a delivered one at `low`: an
// operator who raises the level to Problems to chase delivery trouble sees every failure, of
// both channels, without every success. No I/O beyond the log.
import type { Log } from "../../log/logger.js";
import type { Outcome } from "../../proto/outcome.js";

/** What the line needs of a delivery job (structurally a queue DeliveryJob). */
export interface LoggedJob {
  readonly envelope: { readonly id: string; readonly arrival: number };
  readonly recipients: readonly { readonly rcpt: { readonly address: string } }[];
}

export function logOutcomes(log: Log, job: LoggedJob, out: readonly Outcome[], now: number): void {
  const delay = ((now - job.envelope.arrival) / 1000).toFixed(2);
  job.recipients.forEach((r, i) => {
    const o = out[i];
    if (o === undefined) return;
    const fields = {
      id: job.envelope.id,
      to: r.rcpt.address,
      relay: o.relay,
      delay,
      dsn: o.reply.enhanced,
      status: o.kind === "delivered" ? "sent" : o.kind,
      reply: `${o.reply.code} ${o.reply.text.replace(/\n/g, " ")}`,
    };
    if (o.kind === "delivered") log.low("recipient delivery attempt", fields);
    else log.problem("recipient delivery attempt", fields);
  });
}

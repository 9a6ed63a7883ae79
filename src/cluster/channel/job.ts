// The delivery job a received LMTP transaction becomes on the receiving backend: the envelope
// the sender gave (reverse path, DSN parameters, BODY and SMTPUTF8), the accepted recipients in
// RCPT order, and the message bytes held in memory (bounded by the channel's size limit). The
// job is handed to the local delivery and never enqueued here. No I/O.
import { Readable } from "node:stream";
import type { MailParameters, RcptParameters } from "../../proto/params.js";
import type { ClientInfo, EnvelopeRecipient } from "../../queue/envelope.js";
import type { DeliveryJob } from "../../queue/types.js";

export interface ReceivedTransaction {
  /** Id for logs and the job's envelope (this backend's, not the sender's queue id). */
  readonly id: string;
  /** Reverse path; "" is the null sender. */
  readonly from: string;
  readonly params: MailParameters;
  readonly rcpts: readonly { readonly address: string; readonly params: RcptParameters }[];
  readonly message: Buffer;
  readonly arrival: number;
  readonly client: ClientInfo;
}

export function channelJob(t: ReceivedTransaction): DeliveryJob {
  const recipients: EnvelopeRecipient[] = t.rcpts.map((r) => ({
    address: r.address,
    original: null,
    notify: r.params.notify,
    orcpt: r.params.orcpt,
  }));
  const message = t.message;
  return {
    envelope: {
      id: t.id,
      returnPath: t.from,
      recipients,
      ret: t.params.ret,
      envid: t.params.envid,
      body: t.params.body,
      smtputf8: t.params.smtputf8,
      // The original source stays with the sender's queue; here the message arrived by SMTP-family transfer.
      source: "smtp",
      authUser: null,
      client: t.client,
      arrival: t.arrival,
      size: message.length,
    },
    recipients: recipients.map((rcpt, index) => ({ index, rcpt })),
    route: { key: `local:${(recipients[0]?.address ?? "").toLowerCase()}`, kind: "local" },
    body: () => Readable.from([message]),
  };
}

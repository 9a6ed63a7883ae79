// XTND XMIT (Eudora's extension, a POP3 "XTND" command): an authenticated client submits a
// message through its POP3 session. After "+OK" the client sends an RFC 5322 message,
// dot-stuffed and ended by "." on a line of its own, as in RETR. The envelope sender is the
// logged-in account (never a header the client wrote); the recipients are the addresses of the
// To, Cc and Bcc fields; Bcc is removed from the copy that is submitted. Answered +OK only once
// the Submitter says the message is durable in some queue; otherwise -ERR with its reason.
//
// The message is untrusted: its size is bounded by smtp.maxMessageSize and the account's own
// limit, its lines by smtp.maxDataLine, bare CR or LF refuse it (as in SMTP DATA), and the
// recipients by smtp.maxRecipients. The account's outgoing flow limit applies as in submission.
import { headerFields, parseAddressList, withoutFields } from "../../proto/header-fields.js";
import { rfc5322Date } from "../../proto/date.js";
import type { EnvelopeDraft } from "../../queue/types.js";
import type { DataError } from "../../proto/dataframe.js";
import type { Pop3Command, Pop3Session } from "./session.js";

const DATA_ERRORS: Record<DataError, string> = {
  bareLineEnding: "message refused: bare CR or LF (lines must end with CRLF)",
  tooBig: "[SYS/PERM] message too big",
  lineTooLong: "message refused: a line is too long",
  headerTooBig: "[SYS/PERM] message header too big",
  tooManyFields: "[SYS/PERM] message header has too many fields",
  // Not checked for XMIT (session.ts takes any content); listed for the type.
  eightBit: "message refused: 8-bit data",
  nul: "message refused: NUL in message data",
};
const RECIPIENT_FIELDS = new Set(["to", "cc", "bcc"]);
const STRIPPED = new Set(["bcc"]);
const NON_ASCII = /[\u0080-\uffff]/;

/** The recipients of the header section: To, Cc and Bcc addresses, deduplicated. */
export function headerRecipients(message: Buffer): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const f of headerFields(message)) {
    if (!RECIPIENT_FIELDS.has(f.name.toLowerCase())) continue;
    for (const a of parseAddressList(f.value)) {
      const key = a.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(a);
    }
  }
  return out;
}

async function flowExceeded(s: Pop3Session): Promise<boolean> {
  const account = s.account!;
  if (account.outFlow === null) return false;
  const since = s.o.clock.now() - account.outFlow.periodSeconds * 1000;
  return (await s.o.directory.countFlow(account.address, "out", since)) >= account.outFlow.messages;
}

async function xmit(s: Pop3Session): Promise<void> {
  const { settings, directory, submitter, clock } = s.o;
  // The account as it is now: it may have been disabled since login.
  const account = await directory.getAccount(s.account!.address).catch(() => undefined);
  if (account === undefined) return s.err("[SYS/TEMP] directory unavailable, try again later");
  if (account === null || !account.enabled) return s.err("[SYS/PERM] this account may not send mail");
  try {
    if (await flowExceeded(s)) {
      s.log.problem("outgoing flow limit reached", { user: account.address });
      return s.err("[SYS/TEMP] too many messages sent, try again later");
    }
  } catch {
    return s.err("[SYS/TEMP] directory unavailable, try again later");
  }
  await s.ok("send the message, end with a line holding only a dot");
  const maxBytes = Math.min(settings.smtp.maxMessageSize, account.maxMessageSize ?? Infinity);
  const got = await s.readData({ maxBytes, maxLine: settings.smtp.maxDataLine, header: settings.smtp });
  if (got === null) return;
  if ("error" in got) {
    s.log.problem("XTND XMIT message refused", { user: account.address, reason: got.error });
    return s.err(DATA_ERRORS[got.error]);
  }
  const recipients = headerRecipients(got.data);
  if (recipients.length === 0) return s.err("[SYS/PERM] no recipients in To, Cc or Bcc");
  if (recipients.length > settings.smtp.maxRecipients)
    return s.err(`[SYS/PERM] too many recipients (at most ${settings.smtp.maxRecipients})`);
  const arrival = clock.now();
  const ip = s.remote.address.includes(":") ? `IPv6:${s.remote.address}` : s.remote.address;
  const received = Buffer.from(
    `Received: from [${ip}] (authenticated as ${account.address})\r\n\tby ${settings.hostname} (Mailyard) with POP3 XTND XMIT${s.tlsActive ? " over TLS" : ""};\r\n\t${rfc5322Date(arrival)}\r\n`,
  );
  const message = Buffer.concat([received, withoutFields(got.data, STRIPPED)]);
  const draft: EnvelopeDraft = {
    returnPath: account.address,
    recipients: recipients.map((address) => ({ address, original: null, notify: null, orcpt: null })),
    ret: null,
    envid: null,
    body: NON_ASCII.test(message.toString("latin1")) ? "8BITMIME" : "7BIT",
    smtputf8: recipients.some((r) => NON_ASCII.test(r)),
    source: "pop3",
    authUser: account.address,
    client: { address: s.remote.address, port: s.remote.port, helo: null, tls: s.tlsActive },
    arrival,
  };
  const r = await submitter.submit(draft, message);
  if (!r.ok) {
    s.log.problem("submit refused", {
      source: "pop3",
      from: account.address,
      code: r.reply.code,
      text: r.reply.text,
    });
    const kind = r.reply.code >= 500 ? "SYS/PERM" : "SYS/TEMP";
    return s.err(`[${kind}] ${r.reply.text.split(/\r?\n/)[0] ?? "not accepted"}`);
  }
  await directory.recordFlow(account.address, "out", arrival).catch(() => undefined);
  s.log.major("message submitted", {
    source: "pop3",
    id: r.id,
    node: r.node,
    from: account.address,
    nrcpt: recipients.length,
    size: message.length,
  });
  return s.ok(`message submitted as ${r.id}`);
}

export const xtnd: Pop3Command = {
  name: "XTND",
  states: ["transaction"],
  async run(s, arg) {
    if (arg.toUpperCase() !== "XMIT") return s.err("unknown XTND command (only XTND XMIT is supported)");
    await xmit(s);
  },
};

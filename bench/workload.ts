// The mail a scenario sends: envelope and message bytes for message i, the same bytes for every
// MTA and every round (nothing random, nothing time-dependent), so A/B runs compare like for like.

export type WorkloadKind = "relay" | "fanout" | "local";

export interface Workload {
  readonly kind: WorkloadKind;
  /** Messages (SMTP transactions) in the run. */
  readonly messages: number;
  /** Concurrent client sessions. */
  readonly sessions: number;
  /** Size of each message as sent (headers and body), in bytes. */
  readonly messageBytes: number;
  /** Recipients per message. */
  readonly recipients: number;
  /** Local scenario: the number of mailboxes u0..u(N-1) round-robin. */
  readonly mailboxes: number;
  /**
   * "mx": what an MX sees from the Internet, as Postfix's smtp-source sends it: a new connection
   * per message, HELO or EHLO (alternately), every command waiting for its reply (no
   * pipelining), from `sources` client addresses 127.0.0.2.. (Linux routes all of 127/8 to lo).
   * Absent: long sessions that pipeline MAIL, RCPT and DATA (RFC 2920).
   */
  readonly mx?: { readonly sources: number };
}

/** The client address of message i in an "mx" workload: 127.0.0.2 .. 127.0.0.(1 + sources). */
export function sourceOf(w: Workload, i: number): string | undefined {
  if (w.mx === undefined) return undefined;
  const n = (i % w.mx.sources) + 2;
  return `127.0.${n >> 8}.${n & 255}`;
}

export const SENDER = "bench@sender.test";
export const LOCAL_DOMAIN = "example.test";
export const REMOTE_DOMAIN = "remote.test";

export function recipientsOf(w: Workload, i: number): string[] {
  switch (w.kind) {
    case "relay":
      return [`r${i}@${REMOTE_DOMAIN}`];
    case "fanout":
      return Array.from({ length: w.recipients }, (_, j) => `f${j}@${REMOTE_DOMAIN}`);
    case "local":
      return [`u${i % w.mailboxes}@${LOCAL_DOMAIN}`];
  }
}

const WORDS =
  "the queue holds each message until every recipient is delivered deferred or bounced and a " +
  "reply of two hundred fifty means the bytes are on disk before the client is told so";

/** Body lines of ~72 characters of text; no line starts with a dot, so no dot-stuffing. */
function bodyOf(bytes: number): string {
  const words = WORDS.split(" ");
  const lines: string[] = [];
  let size = 0;
  let w = 0;
  while (size < bytes) {
    let line = "";
    while (line.length < 66) line += (line ? " " : "") + words[w++ % words.length]!;
    lines.push(line);
    size += line.length + 2;
  }
  return lines.join("\r\n") + "\r\n";
}

/** Message i as sent after the 354: headers, body and the terminating "." line. */
export function messageFactory(w: Workload): (i: number) => Buffer {
  const header = (i: number): string => {
    const to = recipientsOf(w, i);
    return (
      `From: Bench <${SENDER}>\r\n` +
      `To: ${to.length === 1 ? `<${to[0]!}>` : `undisclosed-recipients:;`}\r\n` +
      `Subject: bench message ${i}\r\n` +
      `Date: Sat, 01 Jan 2000 00:00:00 +0000\r\n` +
      `Message-ID: <bench-${i}@sender.test>\r\n` +
      `MIME-Version: 1.0\r\n` +
      `Content-Type: text/plain; charset=us-ascii\r\n\r\n`
    );
  };
  const headerBytes = Buffer.byteLength(header(0));
  const body = Buffer.from(bodyOf(Math.max(0, w.messageBytes - headerBytes - 3)) + ".\r\n", "latin1");
  return (i) => Buffer.concat([Buffer.from(header(i), "latin1"), body]);
}

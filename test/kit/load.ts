// A bounded SMTP load client for end-to-end tests: S sessions send N messages in total, each
// message tagged with a unique id in its Subject, and every id that got a 250 after DATA is
// recorded. Used to prove that nothing acknowledged is lost (crash test).
import net from "node:net";

export interface LoadResult {
  /** Tags of messages whose DATA got a 250. */
  readonly acked: string[];
  /** Tags refused or cut off (no 250). */
  readonly failed: string[];
  /** For each failed tag, the replies it got (MAIL, RCPT, DATA, end of data): diagnostics. */
  readonly why: string[];
}

export interface LoadOptions {
  readonly port: number;
  readonly host?: string;
  readonly sessions: number;
  readonly messages: number;
  readonly from: string;
  /** Index of the first message (tags load-<i>), so loads run side by side do not share tags. */
  readonly firstIndex?: number;
  /** Recipient of message i. */
  readonly to: (i: number) => string;
  readonly bodyBytes: number;
  /** Give up on the whole run after this long. */
  readonly timeoutMs: number;
  /** AUTH PLAIN after EHLO (a submission port). */
  readonly auth?: { readonly user: string; readonly password: string };
  /** Called after each acknowledged message (e.g. to kill the server midway). */
  readonly onAck?: (count: number) => void;
}

class LineReader {
  private buf = "";
  private waiters: ((line: string | null) => void)[] = [];
  private lines: string[] = [];
  private closed = false;
  constructor(sock: net.Socket) {
    sock.on("data", (d: Buffer) => {
      this.buf += d.toString("latin1");
      let i;
      while ((i = this.buf.indexOf("\r\n")) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        const w = this.waiters.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    });
    const end = () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w(null);
    };
    sock.on("close", end);
    sock.on("error", end);
  }
  /** The next complete reply (last line of a multi-line reply), or null when the peer is gone. */
  async reply(): Promise<string | null> {
    for (;;) {
      const line =
        this.lines.shift() ??
        (this.closed ? null : await new Promise<string | null>((r) => this.waiters.push(r)));
      if (line === null) return null;
      if (line[3] !== "-") return line;
    }
  }
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const acked: string[] = [];
  const failed: string[] = [];
  const why: string[] = [];
  const deadline = Date.now() + o.timeoutMs;
  const filler = "x".repeat(76) + "\r\n";
  const body = filler.repeat(Math.max(1, Math.ceil(o.bodyBytes / filler.length)));
  let next = o.firstIndex ?? 0;
  const end = next + o.messages;
  const session = async (): Promise<void> => {
    const sock = net.connect({ host: o.host ?? "127.0.0.1", port: o.port });
    sock.on("error", () => undefined);
    const r = new LineReader(sock);
    try {
      if (!(await r.reply())?.startsWith("220")) return;
      sock.write("EHLO load.test\r\n");
      if (!(await r.reply())?.startsWith("250")) return;
      if (o.auth !== undefined) {
        sock.write(
          `AUTH PLAIN ${Buffer.from(`\0${o.auth.user}\0${o.auth.password}`).toString("base64")}\r\n`,
        );
        if (!(await r.reply())?.startsWith("235")) return;
      }
      while (next < end && Date.now() < deadline) {
        const i = next++;
        const tag = `load-${i}`;
        // RFC 2920: MAIL, RCPT and DATA go in one group; the text waits for the 354.
        sock.write(`MAIL FROM:<${o.from}>\r\nRCPT TO:<${o.to(i)}>\r\nDATA\r\n`);
        const mail = await r.reply();
        const rcpt = await r.reply();
        const data = await r.reply();
        let last: string | null = null;
        if (data?.startsWith("354")) {
          sock.write(
            `From: <${o.from}>\r\nTo: <${o.to(i)}>\r\nSubject: ${tag}\r\nMessage-ID: <${tag}@load.test>\r\n\r\n${body}.\r\n`,
          );
          const end = await r.reply();
          last = end;
          if (end?.startsWith("250")) {
            acked.push(tag);
            o.onAck?.(acked.length);
            continue;
          }
        }
        failed.push(tag);
        why.push(`${tag}: ${[mail, rcpt, data, last].map((x) => x ?? "(closed)").join(" | ")}`);
        if (mail === null || rcpt === null || data === null) return;
        // A refused transaction may leave its MAIL standing (DATA refused for want of a
        // recipient): the next MAIL would get a 503 that is the client's fault, not the server's.
        sock.write("RSET\r\n");
        if ((await r.reply()) === null) return;
      }
      sock.write("QUIT\r\n");
      await r.reply();
    } finally {
      sock.destroy();
    }
  };
  await Promise.all(Array.from({ length: o.sessions }, () => session()));
  return { acked, failed, why };
}

/** Poll a condition until it holds or the time is up (bounded; each probe is a real check). */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

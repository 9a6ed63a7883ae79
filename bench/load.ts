// The load generator: N concurrent SMTP sessions share a bounded list of messages; each
// transaction pipelines MAIL, RCPT and DATA in one write (RFC 2920), sends the message after the
// 354, and times the span from the moment the final ".\r\n" is handed to the kernel until the
// reply. Also holds idle connections open for the memory-per-connection scenario. Replies from
// the MTA are trusted only as far as their first three characters.
import net from "node:net";
import { performance } from "node:perf_hooks";
import { messageFactory, recipientsOf, SENDER, sourceOf, type Workload } from "./workload.js";

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export const epochMs = (): number => performance.timeOrigin + performance.now();

export interface LoadResult {
  readonly acked: number;
  readonly failed: number;
  /** First reply that was not a 2xx/354, for the report. */
  readonly firstError: string | null;
  readonly startMs: number;
  readonly lastAckMs: number;
  /** End-of-data → 250 latency in ms, one entry per acknowledged message. */
  readonly latenciesMs: number[];
  /** When the WARM_UP_MESSAGES-th message was acknowledged (0: fewer were): the warm-up's end. */
  readonly warmUpAckMs: number;
}

/** Messages counted as a freshly started MTA's warm-up in the report (first vs the rest). */
export const WARM_UP_MESSAGES = 1000;

/** Reads SMTP replies off a socket; a reply is complete at its line without "-" after the code. */
class ReplyReader {
  private buf = "";
  private readonly ready: string[] = [];
  private waiter: ((reply: string | null) => void) | null = null;
  private closed = false;

  constructor(sock: net.Socket) {
    sock.setEncoding("latin1");
    sock.on("data", (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf("\r\n")) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        if (line[3] === "-") continue;
        const w = this.waiter;
        this.waiter = null;
        if (w) w(line);
        else this.ready.push(line);
      }
    });
    const end = (): void => {
      this.closed = true;
      const w = this.waiter;
      this.waiter = null;
      w?.(null);
    };
    sock.on("close", end);
    sock.on("error", end);
  }

  /** The next reply, or null once the connection is gone. One reader at a time. */
  next(): Promise<string | null> {
    const r = this.ready.shift();
    if (r !== undefined) return Promise.resolve(r);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => (this.waiter = resolve));
  }
}

function connect(port: number, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({
      host: "127.0.0.1",
      port,
      ...(localAddress === undefined ? {} : { localAddress }),
    });
    sock.setNoDelay(true);
    sock.once("connect", () => {
      sock.off("error", reject);
      sock.on("error", () => undefined);
      resolve(sock);
    });
    sock.once("error", reject);
  });
}

/** Connects, reads the greeting and says EHLO (or HELO); null when any step fails. */
async function open(
  port: number,
  o: { localAddress?: string | undefined; helo?: boolean } = {},
): Promise<{ sock: net.Socket; r: ReplyReader } | null> {
  let sock: net.Socket;
  try {
    sock = await connect(port, o.localAddress);
  } catch {
    return null;
  }
  const r = new ReplyReader(sock);
  if ((await r.next())?.startsWith("220")) {
    sock.write(`${o.helo === true ? "HELO" : "EHLO"} load.bench.test\r\n`);
    if ((await r.next())?.startsWith("250")) return { sock, r };
  }
  sock.destroy();
  return null;
}

export async function runLoad(port: number, w: Workload, timeoutMs: number): Promise<LoadResult> {
  const message = messageFactory(w);
  const latencies: number[] = [];
  let acked = 0;
  let failed = 0;
  let firstError: string | null = null;
  let lastAckMs = 0;
  let warmUpAckMs = 0;
  let next = 0;
  const deadline = Date.now() + timeoutMs;
  const fail = (reply: string | null): void => {
    failed++;
    firstError ??= reply ?? "connection lost";
  };
  const ack = (at: number, sentAt: number): void => {
    acked++;
    lastAckMs = at;
    if (acked === WARM_UP_MESSAGES) warmUpAckMs = at;
    latencies.push(at - (sentAt || at));
  };

  /** One message on its own connection, each command waiting for its reply (an MX's view). */
  const mxMessage = async (i: number): Promise<void> => {
    const s = await open(port, { localAddress: sourceOf(w, i), helo: i % 2 === 1 });
    if (!s) return fail("could not open a session");
    const { sock, r } = s;
    try {
      const rcpts = recipientsOf(w, i);
      const step = async (line: string, code: string): Promise<boolean> => {
        sock.write(line);
        const reply = await r.next();
        if (reply?.startsWith(code)) return true;
        fail(reply);
        return false;
      };
      if (!(await step(`MAIL FROM:<${SENDER}>\r\n`, "250"))) return;
      for (const a of rcpts) if (!(await step(`RCPT TO:<${a}>\r\n`, "250"))) return;
      if (!(await step("DATA\r\n", "354"))) return;
      let sentAt = 0;
      sock.write(message(i), () => (sentAt = epochMs()));
      const end = await r.next();
      const at = epochMs();
      if (!end?.startsWith("250")) return fail(end);
      ack(at, sentAt);
      sock.write("QUIT\r\n");
      await r.next();
    } finally {
      sock.destroy();
    }
  };

  const session = async (): Promise<void> => {
    if (w.mx !== undefined) {
      while (next < w.messages && Date.now() < deadline) await mxMessage(next++);
      return;
    }
    const s = await open(port);
    if (!s) {
      fail("could not open a session");
      return;
    }
    const { sock, r } = s;
    try {
      while (next < w.messages && Date.now() < deadline) {
        const i = next++;
        const rcpts = recipientsOf(w, i);
        sock.write(`MAIL FROM:<${SENDER}>\r\n${rcpts.map((a) => `RCPT TO:<${a}>\r\n`).join("")}DATA\r\n`);
        const mail = await r.next();
        let rcptOk = 0;
        let bad: string | null = mail?.startsWith("250") ? null : mail;
        for (let k = 0; k < rcpts.length; k++) {
          const rr = await r.next();
          if (rr?.startsWith("250")) rcptOk++;
          else bad ??= rr;
        }
        const data = await r.next();
        if (!data?.startsWith("354")) {
          fail(bad ?? data);
          if (data === null) return;
          continue;
        }
        let sentAt = 0;
        sock.write(message(i), () => (sentAt = epochMs()));
        const end = await r.next();
        const at = epochMs();
        if (end?.startsWith("250") && rcptOk === rcpts.length) {
          ack(at, sentAt);
        } else {
          fail(bad ?? end);
          if (end === null) return;
        }
      }
      sock.write("QUIT\r\n");
      await r.next();
    } finally {
      sock.destroy();
    }
  };

  const startMs = epochMs();
  await Promise.all(Array.from({ length: w.sessions }, () => session()));
  // Messages never attempted (the deadline passed) count as failed.
  failed += Math.max(0, w.messages - next);
  return { acked, failed, firstError, startMs, lastAckMs, latenciesMs: latencies, warmUpAckMs };
}

export interface IdleHold {
  readonly opened: number;
  readonly failed: number;
  close(): void;
}

/** Opens `count` sessions (greeting + EHLO each), a few at a time, and holds them idle. */
export async function holdIdle(port: number, count: number, timeoutMs: number): Promise<IdleHold> {
  const socks: net.Socket[] = [];
  let failed = 0;
  let next = 0;
  const deadline = Date.now() + timeoutMs;
  // 50 openers at a time: Postfix forks one smtpd per connection, and a burst of 1000 connects
  // would mostly measure the listen backlog.
  const opener = async (): Promise<void> => {
    while (next < count && Date.now() < deadline) {
      next++;
      const s = await open(port);
      if (s) socks.push(s.sock);
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(50, count) }, () => opener()));
  failed += count - next;
  return {
    opened: socks.length,
    failed,
    close: () => {
      for (const s of socks) s.destroy();
    },
  };
}

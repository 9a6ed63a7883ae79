// Shared pieces of the delivery-channel tests: a fake receiving backend (admit from a table,
// deliver answering per recipient from a script and recording the jobs), a log whose records can
// be awaited, delivery jobs from plain values, a channel server and client on loopback, and a
// recording TCP proxy that shows what went over the wire in which segment.
import { EventEmitter } from "node:events";
import net from "node:net";
import { Readable } from "node:stream";
import {
  createChannelClient,
  type ChannelClient,
  type ChannelTarget,
} from "../../src/cluster/channel/client.js";
import {
  createChannelServer,
  type ChannelServer,
  type ChannelServerOptions,
} from "../../src/cluster/channel/server.js";
import type { Fields, Log, Tag } from "../../src/log/logger.js";
import { bounced, deferred, delivered, type Outcome } from "../../src/proto/outcome.js";
import { REPLIES, reply, type Reply } from "../../src/proto/reply.js";
import type { Envelope, EnvelopeRecipient, Notify } from "../../src/queue/envelope.js";
import type { DeliveryJob } from "../../src/queue/types.js";
import type { Clock } from "../../src/world/clock.js";
import { tcpDialer } from "../../src/world/dialer.js";
import { FakeClock } from "../kit/clock.js";
import { memoryLogSink, type Record as LogRecord } from "../kit/log.js";

export const SECRET = "correct horse battery staple 42";

/** Resolves when pred() holds, re-checked on every event; rejects after timeoutMs. */
function waitOn(events: EventEmitter, pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (pred()) return resolve();
    const check = (): void => {
      if (!pred()) return;
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      events.removeListener("change", check);
    };
    events.on("change", check);
  });
}

export interface WatchedLog {
  readonly log: Log;
  readonly records: LogRecord[];
  has(text: string): boolean;
  waitFor(text: string, count?: number): Promise<void>;
}

export function watchedLog(tag: Tag): WatchedLog {
  const sink = memoryLogSink();
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const wrap = (inner: Log): Log => {
    const at =
      (fn: (text: string, fields?: Fields) => void) =>
      (text: string, fields?: Fields): void => {
        fn(text, fields);
        events.emit("change");
      };
    return {
      tag: inner.tag,
      session: inner.session,
      context: inner.context,
      enabled: () => true,
      crash: at((t, f) => inner.crash(t, f)),
      failure: at((t, f) => inner.failure(t, f)),
      major: at((t, f) => inner.major(t, f)),
      problem: at((t, f) => inner.problem(t, f)),
      low: at((t, f) => inner.low(t, f)),
      info: at((t, f) => inner.info(t, f)),
      with: (s, c) => wrap(inner.with(s, c)),
    };
  };
  const count = (text: string): number => sink.records.filter((r) => r.text === text).length;
  return {
    log: wrap(sink.for(tag)),
    records: sink.records,
    has: (text) => count(text) > 0,
    waitFor: (text, n = 1) => waitOn(events, () => count(text) >= n, `log "${text}" x${n}`),
  };
}

/** What the fake backend answers for a recipient after the data. */
export type Verdict = "ok" | Reply;

export interface FakeBackend {
  readonly jobs: DeliveryJob[];
  /** The message bytes of each job, read back through job.body(). */
  readonly messages: Buffer[];
  readonly admitted: string[];
  admit(address: string): Promise<Reply | null>;
  deliver(job: DeliveryJob): Promise<Outcome[]>;
  waitFor(pred: () => boolean, what: string): Promise<void>;
  /** While set, deliver() waits for it before answering. */
  gate: Promise<void> | null;
}

/**
 * refuse: RCPT-time answers by local part; verdicts: per-recipient answers after the data
 * (default delivered).
 */
export function fakeBackend(
  refuse: Readonly<Partial<Record<string, Reply>>> = {},
  verdicts: Readonly<Partial<Record<string, Verdict>>> = {},
): FakeBackend {
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const b: FakeBackend = {
    jobs: [],
    messages: [],
    admitted: [],
    gate: null,
    admit(address) {
      b.admitted.push(address);
      events.emit("change");
      return Promise.resolve(refuse[address.split("@")[0] ?? ""] ?? null);
    },
    async deliver(job) {
      const parts: Buffer[] = [];
      for await (const c of job.body()) parts.push(Buffer.from(c as Buffer));
      b.jobs.push(job);
      b.messages.push(Buffer.concat(parts));
      events.emit("change");
      if (b.gate !== null) await b.gate;
      return job.recipients.map(({ rcpt }) => {
        const v = verdicts[rcpt.address.split("@")[0] ?? ""] ?? "ok";
        if (v === "ok") return delivered(REPLIES.deliveredMailbox, "mailbox");
        return v.code >= 500 ? bounced(v, "mailbox") : deferred(v, "mailbox");
      });
    },
    waitFor: (pred, what) => waitOn(events, pred, what),
  };
  return b;
}

export interface JobSpec {
  readonly rcpts: readonly string[];
  readonly body?: string | Buffer;
  readonly envelope?: Partial<Envelope>;
  readonly notify?: Notify;
  readonly orcpt?: string | null;
}

let jobCount = 0;

export function job(spec: JobSpec): DeliveryJob {
  const bytes = Buffer.from(spec.body ?? "Subject: test\r\n\r\nhello\r\n");
  const recipients: EnvelopeRecipient[] = spec.rcpts.map((address) => ({
    address,
    original: null,
    notify: spec.notify ?? null,
    orcpt: spec.orcpt ?? null,
  }));
  const envelope: Envelope = {
    id: `Q${String(++jobCount).padStart(8, "0")}`,
    returnPath: "sender@origin.test",
    recipients,
    ret: null,
    envid: null,
    body: "8BITMIME",
    smtputf8: false,
    source: "smtp",
    authUser: null,
    client: null,
    arrival: Date.UTC(2026, 0, 1),
    size: bytes.length,
    ...spec.envelope,
  };
  return {
    envelope,
    recipients: recipients.map((rcpt, index) => ({ index, rcpt })),
    route: { key: `local:${spec.rcpts[0] ?? ""}`, kind: "local" },
    body: () => Readable.from([Buffer.from(bytes)]),
  };
}

export interface ServerRig {
  readonly server: ChannelServer;
  readonly port: number;
  readonly backend: FakeBackend;
  readonly clock: FakeClock;
  readonly logs: WatchedLog;
}

export async function startServer(
  t: { after(fn: () => Promise<void>): void },
  backend: FakeBackend = fakeBackend(),
  over: Partial<ChannelServerOptions> = {},
): Promise<ServerRig> {
  const clock = new FakeClock();
  const logs = watchedLog("DELIVERY");
  const server = createChannelServer({
    secret: SECRET,
    hostname: "backend1.test",
    log: logs.log,
    clock,
    admit: (a) => backend.admit(a),
    deliver: (j) => backend.deliver(j),
    maxMessageSize: 1_000_000,
    timeouts: { idleMs: 60_000 },
    ...over,
  });
  const bound = await server.listen("127.0.0.1", 0);
  t.after(() => server.close());
  return { server, port: bound.port, backend, clock, logs };
}

export interface ClientRig {
  readonly client: ChannelClient;
  readonly clock: FakeClock;
  readonly logs: WatchedLog;
}

export function startClient(
  t: { after(fn: () => Promise<void>): void },
  target: ChannelTarget | { none: string },
  over: {
    secret?: string | null;
    nodeId?: string;
    idleKeepMs?: number;
    timeoutMs?: number;
    clock?: Clock;
  } = {},
): ClientRig {
  const clock = new FakeClock();
  const logs = watchedLog("DELIVERY");
  const client = createChannelClient({
    secret: over.secret === undefined ? SECRET : over.secret,
    nodeId: over.nodeId ?? "frontend1",
    hostname: "frontend1.test",
    dialer: tcpDialer,
    clock: over.clock ?? clock,
    log: logs.log,
    timeoutMs: over.timeoutMs ?? 30_000,
    idleKeepMs: over.idleKeepMs ?? 5_000,
    target: () => Promise.resolve(target),
  });
  t.after(() => client.close());
  return { client, clock, logs };
}

export const backendAt = (port: number, id = "backend1"): ChannelTarget => ({ id, host: "127.0.0.1", port });

/** Compact view of outcomes for assertions. */
export const summary = (o: Outcome): string =>
  `${o.kind} ${o.reply.code} ${o.reply.enhanced ?? "-"}${o.kind === "delivered" ? "" : ` ${o.scope}`}`;

export interface Proxy {
  readonly port: number;
  /** Client-to-server segments as received, per connection. */
  readonly sent: string[][];
  /** From now on the open connections answer anything with 421 and close (a server gone stale). */
  poisonOpen(): void;
  close(): Promise<void>;
}

/** A TCP relay in front of a port that records what the client side sent, segment by segment. */
export async function recordingProxy(targetPort: number): Promise<Proxy> {
  const sent: string[][] = [];
  const sockets = new Set<net.Socket>();
  const open = new Set<net.Socket>();
  const poisoned = new Set<net.Socket>();
  const server = net.createServer((down) => {
    const mine: string[] = [];
    sent.push(mine);
    open.add(down);
    down.once("close", () => open.delete(down));
    const up = net.connect({ host: "127.0.0.1", port: targetPort });
    for (const s of [down, up]) {
      sockets.add(s);
      s.on("error", () => undefined);
      s.once("close", () => {
        sockets.delete(s);
        down.destroy();
        up.destroy();
      });
    }
    down.on("data", (d: Buffer) => {
      mine.push(d.toString("latin1"));
      if (!poisoned.has(down)) return void up.write(d);
      up.destroy();
      down.end("421 4.4.2 Closing\r\n");
    });
    up.on("data", (d: Buffer) => down.write(d));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const a = server.address();
  return {
    port: typeof a === "object" && a !== null ? a.port : 0,
    sent,
    poisonOpen: () => {
      for (const s of open) poisoned.add(s);
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export const notOwner = reply(450, "4.2.0", "Account is not open on this backend");

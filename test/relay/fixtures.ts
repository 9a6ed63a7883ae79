// Shared pieces of the relay tests: settings pointing outbound SMTP at a loopback port, a
// delivery job built from plain values, a clock that tells when a timeout is armed, and a relay
// channel wired to all of them.
import { Readable } from "node:stream";
import { settingsSchema, type Settings } from "../../src/config/settings.js";
import { createRelayChannel, type RelayChannel } from "../../src/delivery/relay.js";
import type { Envelope, EnvelopeRecipient, Notify } from "../../src/queue/envelope.js";
import type { DeliveryJob } from "../../src/queue/types.js";
import type { TimerHandle } from "../../src/world/clock.js";
import { tcpDialer, type Dialer } from "../../src/world/dialer.js";
import type { Resolver } from "../../src/world/resolver.js";
import { FakeClock } from "../kit/clock.js";
import { silentLog } from "../kit/log.js";

type Outbound = Settings["smtp"]["outbound"];

export function relaySettings(
  port: number,
  outbound: Partial<Outbound> = {},
  forwardTo: string[] = [],
): Settings {
  return settingsSchema.parse({
    hostname: "relay.test",
    smtp: { forwardTo, outbound: { port, ...outbound } },
  });
}

export interface JobSpec {
  readonly rcpts: readonly string[];
  readonly body?: string | Buffer | readonly Buffer[];
  readonly route?: string;
  readonly envelope?: Partial<Envelope>;
  readonly notify?: Notify;
  readonly orcpt?: string | null;
}

export function job(spec: JobSpec): DeliveryJob {
  const body = spec.body ?? "Subject: test\r\n\r\nhello\r\n";
  const chunks = Array.isArray(body) ? (body as Buffer[]) : [Buffer.from(body as string | Buffer)];
  const recipients: EnvelopeRecipient[] = spec.rcpts.map((address) => ({
    address,
    original: null,
    notify: spec.notify ?? null,
    orcpt: spec.orcpt ?? null,
  }));
  const domain = spec.rcpts[0]?.split("@")[1] ?? "example.test";
  const envelope: Envelope = {
    id: "Q0001",
    returnPath: "sender@origin.test",
    recipients,
    ret: null,
    envid: null,
    body: "7BIT",
    smtputf8: false,
    source: "smtp",
    authUser: null,
    client: null,
    arrival: Date.UTC(2026, 0, 1),
    size: chunks.reduce((n, c) => n + c.length, 0),
    ...spec.envelope,
  };
  return {
    envelope,
    recipients: recipients.map((rcpt, index) => ({ index, rcpt })),
    route: { key: spec.route ?? `relay:${domain}`, kind: "remote" },
    body: () => Readable.from(chunks.map((c) => Buffer.from(c))),
  };
}

/** A FakeClock that can say when the next timer is set (a timeout being armed). */
export class WatchedClock extends FakeClock {
  private waiters: (() => void)[] = [];
  override setTimeout(fn: () => void, ms: number): TimerHandle {
    const h = super.setTimeout(fn, ms);
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
    return h;
  }
  /** Resolves when at least `n` timers are pending. */
  async armed(n = 1): Promise<void> {
    while (this.pending() < n) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}

export interface Harness {
  readonly relay: RelayChannel;
  readonly clock: WatchedClock;
}

export function relayChannel(settings: Settings, resolver: Resolver, dialer: Dialer = tcpDialer): Harness {
  const clock = new WatchedClock();
  const relay = createRelayChannel({
    settings,
    resolver,
    dialer,
    clock,
    log: silentLog("SMTP"),
    hostname: "relay.test",
  });
  return { relay, clock };
}

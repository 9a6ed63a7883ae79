// What the filter alone can take: the scenario's messages handed straight to the milter by a
// bare client (Mailyard's own codec and socket layer, no SMTP, no queue, no disk), over as many
// connections as the scenario has sessions. An MTA in front of the filter cannot go faster than
// this, so each MTA's rate as a share of it says how much of the filter's capacity it leaves
// unused; when both MTAs are close to it, their ratio is bounded by the filter, not by them.
import { MilterConnection } from "../src/inbound/milter/connection.js";
import {
  OFFERED_ACTIONS,
  encodeBody,
  encodeConnect,
  encodeData,
  encodeEob,
  encodeEoh,
  encodeHeader,
  encodeHelo,
  encodeMacros,
  encodeMail,
  encodeOptneg,
  encodeRcpt,
} from "../src/proto/milter/codec.js";
import { headerFields, findHeaderEnd } from "../src/proto/header-fields.js";
import { systemClock } from "../src/world/clock.js";
import { treeCpu } from "./procstat.js";
import { SENDER, messageFactory, recipientsOf, type Workload } from "./workload.js";

const TIMEOUT_MS = 60_000;
const FINAL = new Set(["accept", "continue", "reject", "tempfail", "discard", "replycode"]);

export interface MilterCeiling {
  readonly messagesPerSec: number;
  readonly filterCpuPer1000: number;
}

async function reply(c: MilterConnection): Promise<string> {
  for (;;) {
    const r = await c.next(TIMEOUT_MS);
    if (r.kind === "failed") throw new Error(`milter: ${r.reason}`);
    if (FINAL.has(r.kind) || r.kind === "optneg") return r.kind;
  }
}

/** Sends the workload's messages to the milter at host:port; the filter's CPU is read at pid. */
export async function measureMilterCeiling(port: number, pid: number, w: Workload): Promise<MilterCeiling> {
  const make = messageFactory(w);
  const conns: MilterConnection[] = [];
  try {
    for (let k = 0; k < w.sessions; k++) {
      const c = await MilterConnection.open(
        { kind: "inet", host: "127.0.0.1", port },
        systemClock,
        TIMEOUT_MS,
      );
      if (typeof c === "string") throw new Error(c);
      conns.push(c);
      // The protocol flags the filter chooses are its own (rspamd: no reply but to end of message).
      await c.send([encodeOptneg(OFFERED_ACTIONS, 0)], TIMEOUT_MS);
      await reply(c);
      await c.send(
        [encodeMacros("C", { j: "bench" }), encodeConnect("localhost", "127.0.0.1", 40000 + k)],
        TIMEOUT_MS,
      );
      await c.send([encodeHelo("client.sender.test")], TIMEOUT_MS);
    }
    let next = 0;
    const cpu0 = treeCpu(pid);
    const t0 = performance.now();
    await Promise.all(
      conns.map(async (c) => {
        for (let i = next++; i < w.messages; i = next++) {
          const msg = make(i);
          const end = findHeaderEnd(msg, 0);
          if (end === null) throw new Error("bench message without a header end");
          const frames = [encodeMacros("M", { "{mail_addr}": SENDER }), encodeMail(SENDER)];
          for (const r of recipientsOf(w, i))
            frames.push(encodeMacros("R", { "{rcpt_addr}": r }), encodeRcpt(r));
          frames.push(encodeMacros("T", { i: `C${i}` }), encodeData());
          for (const f of headerFields(msg.subarray(0, end.end))) frames.push(encodeHeader(f.name, f.value));
          // The load's message ends with the DATA terminator: not part of the body.
          frames.push(encodeEoh(), ...encodeBody(msg.subarray(end.end, msg.length - 3)));
          frames.push(encodeMacros("E", { i: `C${i}` }), encodeEob());
          await c.send(frames, TIMEOUT_MS);
          await reply(c);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    return {
      messagesPerSec: w.messages / seconds,
      filterCpuPer1000: ((treeCpu(pid) - cpu0) * 1000) / w.messages,
    };
  } finally {
    for (const c of conns) c.close();
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? 0
    : s.length % 2 === 1
      ? s[(s.length - 1) / 2]!
      : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** One line for the report: the ceiling and each MTA's median delivered rate as a share of it. */
export function ceilingText(
  c: MilterCeiling,
  runs: readonly { mta: string; ok: boolean; variant?: string; deliveredPerSec?: number }[],
): string {
  const share = (mta: string): string => {
    const rates = runs
      .filter((r) => r.mta === mta && r.ok && r.variant === undefined)
      .map((r) => r.deliveredPerSec ?? 0);
    return `${((100 * median(rates)) / c.messagesPerSec).toFixed(0)} %`;
  };
  return (
    `The filter alone (a bare milter client, the same messages over as many connections): ` +
    `${c.messagesPerSec.toFixed(1)} msg/s, filter CPU ${c.filterCpuPer1000.toFixed(2)} s per 1,000 msgs; ` +
    `Mailyard delivered ${share("mailyard")} of that, Postfix ${share("postfix")}`
  );
}

/** The port of an `inet:host:port` milter address. */
export const milterPort = (address: string): number => Number(address.slice(address.lastIndexOf(":") + 1));

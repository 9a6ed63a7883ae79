import { test } from "node:test";
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { PassThrough } from "node:stream";
import type { Fields, Log } from "../../log/logger.js";
import type { Clock, TimerHandle } from "../../world/clock.js";
import { proxyPreamble } from "./proxy-preamble.js";

/** A socket stand-in: what the test writes is what the preamble reads. */
function fakeSocket(remoteAddress: string, remotePort = 40000): PassThrough & Socket {
  const s = new PassThrough();
  Object.defineProperty(s, "remoteAddress", { value: remoteAddress });
  Object.defineProperty(s, "remotePort", { value: remotePort });
  return s as PassThrough & Socket;
}

/** A clock whose timers fire only when the test says so. */
function manualClock(): Clock & { fire(): void; pending: number } {
  const timers = new Set<() => void>();
  return {
    now: () => 0,
    setTimeout(fn: () => void): TimerHandle {
      timers.add(fn);
      return { cancel: () => timers.delete(fn) };
    },
    fire() {
      for (const fn of [...timers]) {
        timers.delete(fn);
        fn();
      }
    },
    get pending() {
      return timers.size;
    },
  };
}

function recordingLog(): Log & { records: { text: string; context: string; fields: Fields }[] } {
  const records: { text: string; context: string; fields: Fields }[] = [];
  const make = (context: string): Log => {
    const at = (text: string, fields: Fields = {}) => void records.push({ text, context, fields });
    return {
      tag: "SMTPI",
      session: 0,
      context,
      enabled: () => true,
      crash: at,
      failure: at,
      major: at,
      problem: at,
      low: at,
      info: at,
      with: (_s, c) => make(c),
    };
  };
  return Object.assign(make(""), { records });
}

/** Everything the socket yields from now on, until the test stops asking. */
function collect(s: PassThrough): () => string {
  let got = "";
  s.on("data", (d: Buffer) => (got += d.toString("latin1")));
  return () => got;
}

const tick = () => new Promise<void>((r) => setImmediate(r));

function setup(from: readonly string[] = ["10.0.0.0/8", "2001:db8::/32"]) {
  const clock = manualClock();
  const log = recordingLog();
  return { clock, log, preamble: proxyPreamble({ from, timeoutMs: 5000, log, clock }) };
}

test("a peer outside `from` is not read from: null at once, its bytes stay for the session", async () => {
  const { preamble, clock } = setup();
  const s = fakeSocket("192.0.2.7");
  s.write("PROXY TCP4 203.0.113.9 192.0.2.1 1234 25\r\n");
  assert.equal(await preamble(s), null);
  assert.equal(clock.pending, 0);
  const got = collect(s);
  await tick();
  assert.equal(got(), "PROXY TCP4 203.0.113.9 192.0.2.1 1234 25\r\n");
});

test("v1 from a balancer: the real client, and bytes sent after the header are not lost", async () => {
  const { preamble, clock, log } = setup();
  const s = fakeSocket("10.1.2.3", 5555);
  s.write("PROXY TCP4 203.0.113.9 192.0.2.1 1234 25\r\nEHLO client.test\r\n");
  assert.deepEqual(await preamble(s), { address: "203.0.113.9", port: 1234 });
  assert.equal(clock.pending, 0, "the header timer is cancelled");
  const got = collect(s);
  s.write("QUIT\r\n");
  await tick();
  assert.equal(got(), "EHLO client.test\r\nQUIT\r\n");
  const rec = log.records.find((r) => r.text === "PROXY header");
  assert.deepEqual(rec?.fields, { peer: "10.1.2.3:5555", client: "203.0.113.9:1234", version: 1 });
  assert.equal(rec?.context, "10.1.2.3");
});

test("v2 split over many chunks from an IPv4-mapped balancer address", async () => {
  const { preamble } = setup(["127.0.0.1/32"]);
  const s = fakeSocket("::ffff:127.0.0.1");
  const header = Buffer.concat([
    Buffer.from("0d0a0d0a000d0a515549540a2121", "hex"),
    Buffer.from([0, 36]),
    Buffer.from("20010db8000000000000000000000005", "hex"),
    Buffer.alloc(16),
    Buffer.from([0x30, 0x39, 0, 25]),
  ]);
  const result = preamble(s);
  for (const b of header) {
    s.write(Buffer.from([b]));
    await tick();
  }
  s.write("DATA");
  assert.deepEqual(await result, { address: "2001:db8::5", port: 12345 });
  const got = collect(s);
  await tick();
  assert.equal(got(), "DATA");
});

test("LOCAL and UNKNOWN keep the TCP peer (null)", async () => {
  const { preamble } = setup();
  const local = fakeSocket("10.0.0.1");
  local.write(Buffer.from("0d0a0d0a000d0a515549540a20000000", "hex"));
  assert.equal(await preamble(local), null);
  const unknown = fakeSocket("2001:db8::1");
  unknown.write("PROXY UNKNOWN\r\n");
  assert.equal(await preamble(unknown), null);
});

test("a balancer without a valid header is refused: garbage, a plain SMTP client, an oversize line", async () => {
  const { preamble, clock } = setup();
  for (const text of [
    "EHLO client.test\r\n",
    "PROXY TCP4 1.2.3.4 5.6.7.8 99999 25\r\n",
    `PROXY ${"x".repeat(200)}`,
  ]) {
    const s = fakeSocket("10.0.0.1");
    s.write(text);
    await assert.rejects(preamble(s), /bad PROXY header/, text);
  }
  assert.equal(clock.pending, 0);
});

test("a balancer that sends nothing is refused when the timeout fires; one that closes, at once", async () => {
  const { preamble, clock } = setup();
  const silent = fakeSocket("10.0.0.1");
  const p = preamble(silent);
  silent.write("PROXY TCP4 ");
  await tick();
  clock.fire();
  await assert.rejects(p, /no complete PROXY header within 5000 ms/);

  const closing = fakeSocket("10.0.0.1");
  const q = preamble(closing);
  closing.end("PROXY TCP4 1.2.3.4");
  await assert.rejects(q, /closed before a complete PROXY header/);
});

test("bad entries in `from` are configuration errors", () => {
  const clock = manualClock();
  const log = recordingLog();
  for (const bad of ["10.0.0.0/33", "balancer.test", "10.0.0.0/8/1", "::1/129", "10.0.0.0/x"]) {
    assert.throws(
      () => proxyPreamble({ from: [bad], timeoutMs: 1, log, clock }),
      /smtp\.proxyProtocolFrom/,
      bad,
    );
  }
  assert.doesNotThrow(() => proxyPreamble({ from: ["10.0.0.1", "::1"], timeoutMs: 1, log, clock }));
});

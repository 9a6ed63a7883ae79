// The milter socket layer's batching: frames the milter answers nothing to (SMFIP_NR_*) are held
// and leave in one write when a reply is awaited, so a message costs the milter one read, not
// one per header (rspamd negotiates no reply for everything but the end of message).
import { test } from "node:test";
import assert from "node:assert/strict";
import { MilterConnection } from "../../src/inbound/milter/connection.js";
import { encodeEob, encodeHeader, encodeOptneg } from "../../src/proto/milter/codec.js";
import { systemClock } from "../../src/world/clock.js";
import { startFakeMilter } from "../kit/fake-milter.js";

const TIMEOUT = 10_000;

async function opened(port: number): Promise<MilterConnection> {
  const c = await MilterConnection.open({ kind: "inet", host: "127.0.0.1", port }, systemClock, TIMEOUT);
  if (typeof c === "string") throw new Error(c);
  return c;
}

test("frames that need no reply wait for the next awaited reply and go out in one write", async () => {
  const m = await startFakeMilter();
  try {
    const c = await opened(m.port);
    await c.send([encodeOptneg(0x1ff, 0xff080)], TIMEOUT);
    assert.equal((await c.next(TIMEOUT)).kind, "optneg");
    const readsAfterOptneg = m.reads[0]!;
    for (let i = 0; i < 20; i++) await c.send([encodeHeader(`X-H${i}`, `value ${i}`)], TIMEOUT);
    // A second conversation's whole optneg round trip: had the headers been written, the
    // milter would have read them by the time this one is answered.
    const other = await opened(m.port);
    await other.send([encodeOptneg(0x1ff, 0)], TIMEOUT);
    assert.equal((await other.next(TIMEOUT)).kind, "optneg");
    other.close();
    assert.equal(m.connections[0]!.length, 1, "only the optneg reached the milter");
    await c.send([encodeEob()], TIMEOUT);
    assert.equal((await c.next(TIMEOUT)).kind, "continue");
    assert.deepEqual(
      m.connections[0]!.map((x) => x.cmd),
      ["O", ...Array<string>(20).fill("L"), "E"],
    );
    assert.equal(m.reads[0]! - readsAfterOptneg, 1, "20 headers and the end of message in one read");
    c.close();
  } finally {
    await m.stop();
  }
});

test("held frames are written when 64 KiB pile up, and on close", async () => {
  const m = await startFakeMilter();
  try {
    const c = await opened(m.port);
    const big = "v".repeat(1000);
    for (let i = 0; i < 70; i++) await c.send([encodeHeader("X-Big", big)], TIMEOUT);
    const other = await opened(m.port);
    await other.send([encodeOptneg(0x1ff, 0)], TIMEOUT);
    await other.next(TIMEOUT);
    other.close();
    const early = m.connections[0]!.length;
    assert.ok(early >= 60 && early < 70, `about 64 KiB went out before any reply was awaited (${early})`);
    c.close();
    const deadline = Date.now() + TIMEOUT;
    while (m.connections[0]!.length < 70 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    assert.equal(m.connections[0]!.length, 70, "the rest went out with the close");
  } finally {
    await m.stop();
  }
});

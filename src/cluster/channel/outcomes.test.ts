import { test } from "node:test";
import assert from "node:assert/strict";
import { reply, type Reply } from "../../proto/reply.js";
import { SmtpClientError } from "../../smtp/client/index.js";
import { lmtpOutcomes } from "./outcomes.js";
import type { LmtpResult } from "./outcomes.js";

const R = (code: number, enhanced: string | null = null): Reply => reply(code, enhanced, "t");
const base: LmtpResult = {
  mail: R(250),
  rcpt: [R(250), R(250)],
  data: R(354),
  delivery: [R(250), R(250)],
  error: null,
  after: "reuse",
};
const view = (res: Partial<LmtpResult>): string[] =>
  lmtpOutcomes({ ...base, ...res }, "b1[127.0.0.1]:2424").map(
    (o) => `${o.kind} ${o.reply.code}${o.kind === "delivered" ? "" : ` ${o.scope}`}`,
  );

test("per-recipient replies after the data decide each recipient", () => {
  assert.deepEqual(view({}), ["delivered 250", "delivered 250"]);
  assert.deepEqual(view({ delivery: [R(550), R(452)] }), ["bounced 550 recipient", "deferred 452 recipient"]);
});

test("RCPT refusals stand; MAIL and DATA failures concern the message", () => {
  assert.deepEqual(view({ rcpt: [R(550), R(250)], delivery: [null, R(250)] }), [
    "bounced 550 recipient",
    "delivered 250",
  ]);
  assert.deepEqual(view({ mail: R(552), rcpt: [R(503), R(503)], data: R(503) }), [
    "bounced 552 message",
    "bounced 552 message",
  ]);
  assert.deepEqual(view({ mail: R(451) }), ["deferred 451 message", "deferred 451 message"]);
  assert.deepEqual(view({ data: R(451), delivery: [null, null] }), [
    "deferred 451 message",
    "deferred 451 message",
  ]);
});

test("no reply, a lost connection, a 421 or a 530 defer with scope destination, never bounce", () => {
  const lost = new SmtpClientError("lost", "lost connection");
  assert.deepEqual(
    view({ mail: null, rcpt: [null, null], data: null, delivery: [null, null], error: lost }),
    ["deferred 451 destination", "deferred 451 destination"],
  );
  assert.deepEqual(view({ delivery: [R(250), null], error: lost }), [
    "delivered 250",
    "deferred 451 destination",
  ]);
  assert.deepEqual(view({ mail: R(421) }), ["deferred 421 destination", "deferred 421 destination"]);
  assert.deepEqual(view({ mail: R(530, "5.7.0") }), ["deferred 530 destination", "deferred 530 destination"]);
  const local = new SmtpClientError("local", "reading the queued message failed");
  assert.deepEqual(view({ delivery: [null, null], error: local }), [
    "deferred 451 message",
    "deferred 451 message",
  ]);
});

// The pure parts of inbound authentication: which authserv-id a field claims, dropping forged
// fields from a message split at every byte offset, and the policy table.
import { test } from "node:test";
import assert from "node:assert/strict";
import { settingsSchema } from "../config/settings.js";
import { noMetrics } from "../log/metrics.js";
import { REPLIES } from "../proto/reply.js";
import type { MessageSink } from "../smtp/handler.js";
import type { Resolver } from "../world/resolver.js";
import { FakeClock } from "../../test/kit/clock.js";
import { silentLog } from "../../test/kit/log.js";
import {
  actionFor,
  AUTH_TIMEOUT_MS,
  authservIdOf,
  createAuthentication,
  withoutForgedResults,
  type Verdicts,
} from "./authentication.js";

test("authservIdOf reads the id after comments, before ; or a version", () => {
  assert.equal(authservIdOf("mx.example.test; spf=pass"), "mx.example.test");
  assert.equal(authservIdOf(" (c) MX.Example.Test 1; dkim=pass"), "mx.example.test");
  assert.equal(authservIdOf("mx.example.test.evil; spf=pass"), "mx.example.test.evil");
  assert.equal(authservIdOf(""), "");
});

test("withoutForgedResults drops only our id's fields, at every split point", () => {
  const message =
    "Subject: x\r\nAuthentication-Results: mx.example.test;\r\n\tdkim=pass\r\n" +
    "Authentication-Results: other.test; spf=pass\r\nauthentication-results: MX.EXAMPLE.TEST; x=y\r\n\r\n" +
    "Authentication-Results: mx.example.test; body line\r\n";
  const want =
    "Subject: x\r\nAuthentication-Results: other.test; spf=pass\r\n\r\n" +
    "Authentication-Results: mx.example.test; body line\r\n";
  const bytes = Buffer.from(message);
  for (let i = 0; i <= bytes.length; i++) {
    const chunks = [bytes.subarray(0, i), bytes.subarray(i)];
    assert.equal(
      Buffer.concat(withoutForgedResults(chunks, "mx.example.test")).toString(),
      want,
      `split ${i}`,
    );
  }
  const clean = [Buffer.from("Subject: y\r\n\r\nbody\r\n")];
  assert.equal(
    Buffer.concat(withoutForgedResults(clean, "mx.example.test")).toString(),
    "Subject: y\r\n\r\nbody\r\n",
  );
});

test("actionFor: DMARC policy honoured, marked or off; SPF fail marked or rejected", () => {
  const v = (over: Partial<Verdicts>): Verdicts => ({
    spf: "pass",
    dkim: "none",
    arc: "none",
    dmarc: "pass",
    policy: "reject",
    fromDomain: "x.test",
    ...over,
  });
  const s = (smtp: object) => settingsSchema.parse({ smtp });
  assert.equal(actionFor(v({ dmarc: "fail" }), s({})), "reject-dmarc");
  assert.equal(actionFor(v({ dmarc: "fail", policy: "quarantine" }), s({})), "quarantine");
  assert.equal(actionFor(v({ dmarc: "fail", policy: "none" }), s({})), "accept");
  assert.equal(actionFor(v({ dmarc: "fail" }), s({ dmarcPolicy: "mark" })), "quarantine");
  assert.equal(actionFor(v({ dmarc: "fail" }), s({ dmarcPolicy: "off" })), "accept");
  assert.equal(actionFor(v({ dmarc: "temperror" }), s({})), "accept");
  assert.equal(actionFor(v({ spf: "fail" }), s({})), "accept");
  assert.equal(actionFor(v({ spf: "fail" }), s({ spfFail: "reject" })), "reject-spf");
  assert.equal(actionFor(v({ spf: "temperror" }), s({ spfFail: "reject" })), "accept");
});

test("DNS that never answers: after AUTH_TIMEOUT_MS the message goes on with temperror", async () => {
  const clock = new FakeClock();
  const hang = () => new Promise<never>(() => undefined);
  const resolver: Resolver = { resolveMx: hang, resolveAddresses: hang, resolveTxt: hang, resolvePtr: hang };
  const auth = createAuthentication({
    settings: settingsSchema.parse({ hostname: "mx.example.test" }),
    resolver,
    clock,
    log: silentLog(),
    metrics: noMetrics,
  });
  const written: Buffer[] = [];
  const inner: MessageSink = {
    write: (c) => Promise.resolve(void written.push(c)),
    end: () => Promise.resolve(REPLIES.okSender),
    abort: () => Promise.resolve(),
  };
  const s = {
    id: 1,
    listener: "smtp",
    remote: { address: "192.0.2.7", port: 1 },
    local: { address: "127.0.0.1", port: 25 },
    helo: "c.test",
    esmtp: true,
    tls: false,
    authUser: null,
  } as const;
  const params = {
    size: null,
    body: "7BIT",
    smtputf8: false,
    ret: null,
    envid: null,
    requireTls: false,
  } as const;
  assert.equal(auth.applies(s, false), true);
  assert.equal(auth.applies({ ...s, authUser: "a@b.test" }, false), false);
  assert.equal(auth.applies(s, true), false);
  const sink = auth.sink(s, { from: "x@slow.test", params, rcpts: [] }, inner);
  await sink.write(Buffer.from("From: x@slow.test\r\nSubject: slow\r\n\r\nbody\r\n"));
  const ended = sink.end();
  // end() arms the bound at once; mailauth is stuck on DNS until time passes.
  assert.equal(clock.pending(), 1);
  clock.advance(AUTH_TIMEOUT_MS);
  assert.equal((await ended).code, 250);
  const text = Buffer.concat(written).toString();
  assert.match(text, /^Authentication-Results: mx\.example\.test;\r\n\tdkim=temperror;\r\n\tspf=temperror;/);
  assert.match(text, /Subject: slow\r\n\r\nbody\r\n$/);
});

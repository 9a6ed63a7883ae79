import { test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingHttpHeaders } from "node:http";
import {
  checkHeaders,
  checkOnce,
  checkProof,
  checkReply,
  replyProof,
  requestReplayGuard,
  signRequest,
  type ClaimedSender,
} from "./auth.js";

const SECRET = "cluster-secret-0123456789";
const NOW = Date.UTC(2026, 0, 1);
const body = Buffer.from('{"address":"alice@example.test"}');
const signed = (over: Partial<{ secret: string; time: number; body: Buffer }> = {}): IncomingHttpHeaders =>
  signRequest(
    over.secret ?? SECRET,
    "fe1",
    "b1",
    "POST",
    "/cluster/v1/lookup",
    over.time ?? NOW,
    over.body ?? body,
  );

const claim = (h: IncomingHttpHeaders, now = NOW): ClaimedSender => {
  const c = checkHeaders(h, now, "b1");
  assert.equal(typeof c, "object", `headers refused: ${JSON.stringify(c)}`);
  return c as ClaimedSender;
};

void test("a signed request passes with the same secret, method, path and body", () => {
  const c = claim(signed());
  assert.equal(c.nodeId, "fe1");
  assert.ok(checkProof(SECRET, c, "POST", "/cluster/v1/lookup", body));
});

void test("missing or malformed headers are refused before any digest", () => {
  const h = signed();
  for (const name of [
    "x-mailyard-node",
    "x-mailyard-to",
    "x-mailyard-time",
    "x-mailyard-nonce",
    "x-mailyard-proof",
  ]) {
    const without = { ...h };
    delete without[name];
    assert.equal(checkHeaders(without, NOW, "b1"), "missing authentication headers");
  }
  assert.equal(
    checkHeaders({ ...h, "x-mailyard-time": "soon" }, NOW, "b1"),
    "malformed authentication headers",
  );
  assert.equal(
    checkHeaders({ ...h, "x-mailyard-proof": "abc" }, NOW, "b1"),
    "malformed authentication headers",
  );
  assert.equal(checkHeaders({ ...h, "x-mailyard-node": "" }, NOW, "b1"), "malformed authentication headers");
  assert.equal(
    checkHeaders({ ...h, "x-mailyard-nonce": "1234" }, NOW, "b1"),
    "malformed authentication headers",
  );
  assert.equal(
    checkHeaders({ ...h, "x-mailyard-node": ["a", "b"] }, NOW, "b1"),
    "missing authentication headers",
  );
});

void test("a request for another member is refused there, and the receiver is covered by the proof", () => {
  assert.equal(checkHeaders(signed(), NOW, "b2"), "request for another member");
  const c = claim(signed());
  assert.equal(c.to, "b1");
  assert.ok(!checkProof(SECRET, { ...c, to: "b2" }, "POST", "/cluster/v1/lookup", body));
});

void test("a request older than 15 s or dated more than 5 s ahead is refused; at the bounds it passes", () => {
  assert.equal(checkHeaders(signed({ time: NOW - 15_001 }), NOW, "b1"), "request too old");
  assert.equal(checkHeaders(signed({ time: NOW - 25_000 }), NOW, "b1"), "request too old");
  assert.equal(checkHeaders(signed({ time: NOW + 5_001 }), NOW, "b1"), "request dated in the future");
  assert.equal(checkHeaders(signed({ time: NOW + 50_000 }), NOW, "b1"), "request dated in the future");
  assert.equal(typeof checkHeaders(signed({ time: NOW - 15_000 }), NOW, "b1"), "object");
  assert.equal(typeof checkHeaders(signed({ time: NOW + 5_000 }), NOW, "b1"), "object");
});

void test("the nonce is covered by the proof, and each signed request is accepted once", () => {
  const h = signed();
  const c = claim(h);
  assert.ok(!checkProof(SECRET, { ...c, nonce: "0".repeat(32) }, "POST", "/cluster/v1/lookup", body));
  assert.notEqual(claim(signed()).nonce, c.nonce, "a fresh nonce per request");
  const guard = requestReplayGuard();
  assert.equal(checkOnce(guard, c, NOW), null);
  assert.equal(checkOnce(guard, claim(h, NOW + 5_000), NOW + 5_000), "replayed");
  assert.equal(checkOnce(guard, claim(h, NOW + 15_000), NOW + 15_000), "replayed");
  assert.equal(checkOnce(guard, claim(signed()), NOW), null, "another request passes");
});

void test("a wrong secret, a tampered body, path, method or node id fail the proof", () => {
  assert.ok(
    !checkProof(
      SECRET,
      claim(signed({ secret: "another-secret-0123456" })),
      "POST",
      "/cluster/v1/lookup",
      body,
    ),
  );
  const c = claim(signed());
  assert.ok(
    !checkProof(SECRET, c, "POST", "/cluster/v1/lookup", Buffer.from('{"address":"bob@example.test"}')),
  );
  assert.ok(!checkProof(SECRET, c, "POST", "/cluster/v1/account", body));
  assert.ok(!checkProof(SECRET, c, "PUT", "/cluster/v1/lookup", body));
  assert.ok(!checkProof(SECRET, { ...c, nodeId: "fe2" }, "POST", "/cluster/v1/lookup", body));
  assert.ok(!checkProof(SECRET, { ...c, time: String(NOW + 1) }, "POST", "/cluster/v1/lookup", body));
});

void test("a reply proof binds status, body and the request it answers", () => {
  const req = claim(signed()).proof;
  const text = Buffer.from('{"lookup":{"kind":"unknown"}}');
  const p = replyProof(SECRET, 200, req, text);
  assert.ok(checkReply(SECRET, p, 200, req, text));
  assert.ok(!checkReply(SECRET, p, 422, req, text));
  assert.ok(!checkReply(SECRET, p, 200, req, Buffer.from('{"lookup":{"kind":"remote"}}')));
  assert.ok(!checkReply(SECRET, p, 200, claim(signed({ time: NOW + 1 })).proof, text));
  assert.ok(!checkReply("another-secret-0123456", p, 200, req, text));
  assert.ok(!checkReply(SECRET, undefined, 200, req, text));
});

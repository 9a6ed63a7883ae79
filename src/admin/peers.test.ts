// A member's admin request (forwarded WebAdmin calls) is accepted once: the same signed headers
// sent again are refused, as the cluster API refuses them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { requestReplayGuard, signRequest } from "../cluster/api/auth.js";
import { checkPeerRequest } from "./peers.js";

const SECRET = "cluster-secret-0123456789";
const NOW = Date.UTC(2026, 0, 1);

void test("a peer request passes once; replayed, dated 50 s ahead or 25 s old it is refused", () => {
  const once = requestReplayGuard();
  const body = Buffer.from("{}");
  const h = signRequest(SECRET, "b2", "a", "POST", "/api/queue/x/hold", NOW, body);
  const ok = checkPeerRequest(SECRET, once, "a", h, "POST", "/api/queue/x/hold", body, NOW);
  assert.equal(typeof ok, "object");
  assert.equal(
    checkPeerRequest(SECRET, once, "a", h, "POST", "/api/queue/x/hold", body, NOW + 5_000),
    "replayed request",
  );
  const ahead = signRequest(SECRET, "b2", "a", "GET", "/api/queue", NOW + 50_000, "");
  assert.equal(
    checkPeerRequest(SECRET, once, "a", ahead, "GET", "/api/queue", Buffer.alloc(0), NOW),
    "request dated in the future",
  );
  const old = signRequest(SECRET, "b2", "a", "GET", "/api/queue", NOW - 25_000, "");
  assert.equal(
    checkPeerRequest(SECRET, once, "c", h, "POST", "/api/queue/x/hold", body, NOW),
    "request for another member",
  );
  assert.equal(
    checkPeerRequest(SECRET, once, "a", old, "GET", "/api/queue", Buffer.alloc(0), NOW),
    "request too old",
  );
});

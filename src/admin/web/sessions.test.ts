// WebAdmin sessions: random ids and CSRF tokens, idle and absolute expiry, logout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../../../test/kit/clock.js";
import { createSessionStore } from "./sessions.js";

void test("a session lives while used, ends after the idle time, and never past the maximum", () => {
  const clock = new FakeClock();
  const store = createSessionStore({ clock, idleMs: 1000, maxMs: 3500 });
  const { id, session } = store.create("admin");
  assert.match(id, /^[A-Za-z0-9_-]{43}$/);
  assert.match(session.csrf, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(id, session.csrf);
  for (let i = 0; i < 3; i++) {
    clock.advance(900);
    assert.equal(store.get(id)?.user, "admin", "used within the idle time");
  }
  clock.advance(900);
  assert.equal(store.get(id), null, "3600 ms after login: past the maximum");

  const idle = store.create("admin");
  clock.advance(1001);
  assert.equal(store.get(idle.id), null, "idle too long");
});

void test("logout ends the session; unknown and oversized ids find nothing", () => {
  const clock = new FakeClock();
  const store = createSessionStore({ clock, idleMs: 60_000, maxMs: 60_000 });
  const a = store.create("a");
  const b = store.create("b");
  store.destroy(a.id);
  assert.equal(store.get(a.id), null);
  assert.equal(store.get(b.id)?.user, "b");
  assert.equal(store.get("nope"), null);
  assert.equal(store.get("x".repeat(10_000)), null);
  assert.equal(store.get(""), null);
});

// The WebAdmin store's contract (admin-store.ts) as tests, run on every adapter:
// sqlite-admin-store.test.ts and pg-admin-store.test.ts call adminStoreContract with a way to
// open stores on one fresh backing state. Sessions are driven through their policy (sessions.ts)
// so the rules are checked against each adapter's own rows.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../kit/clock.js";
import type { Clock } from "../../src/world/clock.js";
import type { AdminStore } from "../../src/admin/web/admin-store.js";
import { createSessionStore } from "../../src/admin/web/sessions.js";
import { AdminUserError } from "../../src/admin/web/users.js";

/** `fresh` gives an opener; every store it opens within one test shares the same state. */
export type OpenAdminStore = (t: TestContext) => Promise<(clock: Clock) => Promise<AdminStore>>;

const code = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => "ok",
    (e: unknown) => (e instanceof AdminUserError ? e.code : String(e)),
  );

export function adminStoreContract(name: string, fresh: OpenAdminStore): void {
  void test(`${name} admin store: add, verify, change the password, remove; mistakes are AdminUserErrors`, async (t) => {
    const open = await fresh(t);
    const store = await open(new FakeClock());
    t.after(() => store.close());
    const { users } = store;

    const added = await users.add(" Admin ", "first-password");
    assert.equal(added.name, "admin");
    assert.equal((await users.verify("ADMIN", "first-password"))?.name, "admin");
    assert.equal(await users.verify("admin", "wrong-password"), null);
    assert.equal(await users.verify("nobody", "first-password"), null);
    assert.equal(await users.verify("not a name!", "first-password"), null);

    assert.equal(await code(users.add("admin", "another-password")), "exists");
    assert.equal(await code(users.add("bad name", "another-password")), "invalid");
    assert.equal(await code(users.add("short", "1234567")), "invalid");
    assert.equal(await code(users.setPassword("ghost", "another-password")), "not-found");
    assert.equal(await code(users.remove("ghost")), "not-found");

    await users.setPassword("admin", "second-password");
    assert.equal(await users.verify("admin", "first-password"), null);
    assert.equal((await users.verify("admin", "second-password"))?.name, "admin");
    await users.add("zed", "zed-password");
    assert.deepEqual(
      (await users.list()).map((u) => u.name),
      ["admin", "zed"],
    );
    await users.remove("admin");
    assert.deepEqual(
      (await users.list()).map((u) => u.name),
      ["zed"],
    );
    assert.equal(await users.verify("admin", "second-password"), null);
  });

  void test(`${name} admin store: a session lives while used, ends when idle, never past the maximum`, async (t) => {
    const open = await fresh(t);
    const clock = new FakeClock();
    const store = await open(clock);
    t.after(() => store.close());
    const sessions = createSessionStore({ rows: store.sessions, clock, idleMs: 1000, maxMs: 3500 });
    const { id, session } = await sessions.create("admin");
    assert.match(id, /^[A-Za-z0-9_-]{43}$/);
    assert.match(session.csrf, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(id, session.csrf);
    for (let i = 0; i < 3; i++) {
      clock.advance(900);
      assert.equal((await sessions.get(id))?.csrf, session.csrf, "used within the idle time");
    }
    clock.advance(900);
    assert.equal(await sessions.get(id), null, "3600 ms after login: past the maximum");

    const idle = await sessions.create("admin");
    clock.advance(1001);
    assert.equal(await sessions.get(idle.id), null, "idle too long");
    assert.equal(await store.sessions.count(), 0, "expired sessions are removed");
  });

  void test(`${name} admin store: logout, password change and removal end sessions; odd ids find nothing`, async (t) => {
    const open = await fresh(t);
    const clock = new FakeClock();
    const store = await open(clock);
    t.after(() => store.close());
    await store.users.add("a", "a-password");
    await store.users.add("b", "b-password");
    const sessions = createSessionStore({ rows: store.sessions, clock, idleMs: 60_000, maxMs: 60_000 });
    const a1 = await sessions.create("a");
    const a2 = await sessions.create("a");
    const b = await sessions.create("b");
    await sessions.destroy(a1.id);
    assert.equal(await sessions.get(a1.id), null);
    assert.equal((await sessions.get(a2.id))?.user, "a");
    await store.users.setPassword("a", "new-a-password");
    assert.equal(await sessions.get(a2.id), null, "a password change ends the user's sessions");
    assert.equal((await sessions.get(b.id))?.user, "b");
    await store.users.remove("b");
    assert.equal(await sessions.get(b.id), null, "removing an admin ends their sessions");
    for (const odd of ["nope", "x".repeat(10_000), ""]) assert.equal(await sessions.get(odd), null);
  });

  void test(`${name} admin store: a session made through one store holds through another and after a reopen`, async (t) => {
    const open = await fresh(t);
    const clock = new FakeClock();
    const one = await open(clock);
    const two = await open(clock);
    t.after(async () => {
      await one.close();
      await two.close();
    });
    const opts = { clock, idleMs: 600_000, maxMs: 3_600_000 };
    const onOne = createSessionStore({ rows: one.sessions, ...opts });
    const onTwo = createSessionStore({ rows: two.sessions, ...opts });
    const s = await onOne.create("admin");
    clock.advance(120_000);
    assert.equal((await onTwo.get(s.id))?.csrf, s.session.csrf, "another member sees the session");
    clock.advance(500_000);
    // Seen through `two` 500 s ago (touched), so still alive for `one` although created 620 s ago.
    assert.equal((await onOne.get(s.id))?.user, "admin");
    await one.close();
    const again = await open(clock);
    t.after(() => again.close());
    const onAgain = createSessionStore({ rows: again.sessions, ...opts });
    assert.equal((await onAgain.get(s.id))?.user, "admin", "a restart keeps the session");
    await onTwo.destroy(s.id);
    assert.equal(await onAgain.get(s.id), null);
  });

  void test(`${name} admin store: the session table is bounded, dropping the least recently seen`, async (t) => {
    const open = await fresh(t);
    const store = await open(new FakeClock());
    t.after(() => store.close());
    for (let i = 0; i < 5; i++)
      await store.sessions.insert(`k${i}`, { user: "a", csrf: "c", createdAt: i, lastSeen: 10 - i });
    await store.sessions.trim(3);
    assert.equal(await store.sessions.count(), 3);
    assert.equal(await store.sessions.get("k4"), null, "least recently seen dropped");
    assert.equal((await store.sessions.get("k0"))?.lastSeen, 10);
    await store.sessions.touch("k0", 5);
    assert.equal((await store.sessions.get("k0"))?.lastSeen, 10, "a late touch never moves lastSeen back");
  });
}

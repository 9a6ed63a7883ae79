// The login gate's order on the real throttle over the real SQLite adapter (in memory): the
// password is never checked for a locked name or address, nor for a refused name; a store that
// cannot answer counts nothing; a disabled account counts as a wrong password; every refusal is
// one `auth failed` record at the default level.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../../test/kit/clock.js";
import { memoryLogSink } from "../../test/kit/log.js";
import { LEVELS } from "../log/logger.js";
import { createLoginGate } from "./login-gate.js";
import { openSqliteThrottleRows } from "./sqlite-throttle.js";
import { createLoginThrottle } from "./throttle.js";

void test("login gate: canonical name, throttle before verify, counts only real failures", async (t) => {
  const clock = new FakeClock();
  const rows = openSqliteThrottleRows(":memory:", clock);
  t.after(() => rows.close());
  const policy = {
    freeFailures: 2,
    freeFailuresPerAddress: 10,
    baseMs: 1000,
    maxMs: 8000,
    forgetMs: 3_600_000,
  };
  const gate = createLoginGate(createLoginThrottle({ clock, rows, scope: "mail", policy: () => policy }));
  const logs = memoryLogSink();
  const verified: string[] = [];
  let down = false;
  const accounts: Record<string, { pw: string; enabled: boolean }> = {
    "alice@example.test": { pw: "right", enabled: true },
    "off@example.test": { pw: "right", enabled: false },
  };
  const attempt = (typed: string, password: string, ip = "192.0.2.1") =>
    gate.check({
      service: "smtp",
      mech: "PLAIN",
      ip,
      log: logs.for("SMTPI"),
      typed,
      password,
      verify: (name, pw) => {
        verified.push(name);
        if (down) return Promise.reject(new Error("store down"));
        const a = accounts[name];
        return Promise.resolve(a !== undefined && a.pw === pw ? { name, enabled: a.enabled } : null);
      },
      usable: (a) => a.enabled,
    });

  assert.deepEqual(await attempt("ALICE@Example.test", "right"), {
    kind: "ok",
    name: "alice@example.test",
    account: { name: "alice@example.test", enabled: true },
  });
  assert.deepEqual(await attempt("alice@example.test ", "right"), { kind: "invalid" });
  assert.deepEqual(verified, ["alice@example.test"], "a padded name is never looked up");
  down = true;
  assert.equal((await attempt("alice@example.test", "x")).kind, "temporary");
  down = false;
  assert.deepEqual(await attempt("off@example.test", "right"), { kind: "invalid" });
  assert.deepEqual(await attempt("off@example.test", "right"), { kind: "invalid" });
  verified.length = 0;
  assert.deepEqual(await attempt("OFF@example.test", "right", "192.0.2.9"), {
    kind: "throttled",
    waitMs: 1000,
  });
  assert.deepEqual(verified, [], "a locked name is refused unchecked");
  assert.equal((await attempt("alice@example.test", "wrong")).kind, "invalid");
  assert.equal(
    (await attempt("alice@example.test", "right")).kind,
    "ok",
    "the store failure was not counted",
  );

  const failed = logs.records.filter((r) => r.text === "auth failed");
  assert.deepEqual(
    failed.map((r) => [r.fields["reason"], r.fields["ip"], r.fields["user"]]),
    [
      ["bad-name", "192.0.2.1", undefined],
      ["disabled", "192.0.2.1", "off@example.test"],
      ["disabled", "192.0.2.1", "off@example.test"],
      ["throttled", "192.0.2.9", "off@example.test"],
      ["bad-credentials", "192.0.2.1", "alice@example.test"],
    ],
  );
  assert.ok(failed.every((r) => r.level === LEVELS.major && r.fields["service"] === "smtp"));
  assert.ok(!JSON.stringify(logs.records).includes("right"), "passwords are never logged");
});

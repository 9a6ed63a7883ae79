// The real login gates (src/server/login-gates.ts) for tests that build a handler or a server by
// hand: the real throttle over the real SQLite adapter, in a private in-memory database, with the
// policy of the settings given. Closed after the test.
import type { Settings } from "../../src/config/settings.js";
import { loginGates, type LoginGates } from "../../src/server/login-gates.js";
import { openSqliteThrottleRows } from "../../src/state/sqlite-throttle.js";
import type { Clock } from "../../src/world/clock.js";

type After = { after(fn: () => Promise<void>): void };

export function testLoginGates(t: After, settings: Settings, clock: Clock): LoginGates {
  const rows = openSqliteThrottleRows(":memory:", clock);
  t.after(() => rows.close());
  return loginGates(settings, clock, rows);
}

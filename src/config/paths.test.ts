import { test } from "node:test";
import assert from "node:assert/strict";
import { settingsSchema } from "./settings.js";
import { mailRoot, stateLocation, statePath } from "./paths.js";

const s = (over: object) => settingsSchema.parse({ dataDir: "/srv/my", ...over });

void test("the state file defaults to dataDir/mailyard.db and follows state.url", () => {
  assert.equal(statePath(s({})), "/srv/my/mailyard.db");
  assert.equal(statePath(s({ state: { url: "/shared/state.db" } })), "/shared/state.db");
  assert.equal(statePath(s({ state: { url: "sqlite:/shared/s.db" } })), "/shared/s.db");
  assert.equal(statePath(s({ state: { url: "sqlite:///shared/s.db" } })), "/shared/s.db");
  assert.throws(() => statePath(s({ state: { url: "mysql://x/y" } })), /state\.url: unsupported/);
  assert.throws(() => statePath(s({ state: { url: "sqlite:" } })), /needs a file path/);
});

void test("a postgres:// state.url selects PostgreSQL; the node keeps its own SQLite file for the rest", () => {
  const url = "postgres://mailyard:pw@db.example.test:5432/mailyard";
  assert.deepEqual(stateLocation(s({ state: { url } })), { kind: "postgres", url });
  assert.deepEqual(stateLocation(s({ state: { url: "postgresql://db/x" } })), {
    kind: "postgres",
    url: "postgresql://db/x",
  });
  assert.deepEqual(stateLocation(s({})), { kind: "sqlite", path: "/srv/my/mailyard.db" });
  assert.equal(statePath(s({ state: { url } })), "/srv/my/mailyard.db");
  assert.throws(() => stateLocation(s({ state: { url: "mysql://x/y" } })), /state\.url: unsupported/);
});

void test("the Maildir root defaults to dataDir/mail and follows local.mailDir", () => {
  assert.equal(mailRoot(s({})), "/srv/my/mail");
  assert.equal(mailRoot(s({ local: { mailDir: "/shared/mail" } })), "/shared/mail");
});

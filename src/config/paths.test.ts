import { test } from "node:test";
import assert from "node:assert/strict";
import { settingsSchema } from "./settings.js";
import { mailRoot, statePath } from "./paths.js";

const s = (over: object) => settingsSchema.parse({ dataDir: "/srv/my", ...over });

void test("the state file defaults to dataDir/mailyard.db and follows state.url", () => {
  assert.equal(statePath(s({})), "/srv/my/mailyard.db");
  assert.equal(statePath(s({ state: { url: "/shared/state.db" } })), "/shared/state.db");
  assert.equal(statePath(s({ state: { url: "sqlite:/shared/s.db" } })), "/shared/s.db");
  assert.equal(statePath(s({ state: { url: "sqlite:///shared/s.db" } })), "/shared/s.db");
  assert.throws(() => statePath(s({ state: { url: "mysql://x/y" } })), /state\.url: unsupported/);
  assert.throws(() => statePath(s({ state: { url: "sqlite:" } })), /needs a file path/);
});

void test("the Maildir root defaults to dataDir/mail and follows local.mailDir", () => {
  assert.equal(mailRoot(s({})), "/srv/my/mail");
  assert.equal(mailRoot(s({ local: { mailDir: "/shared/mail" } })), "/shared/mail");
});

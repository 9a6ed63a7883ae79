// Settings loading: precedence (defaults < file < environment < --set), typed parsing of text
// values, and errors that name the key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError, loadSettings } from "./load.js";
import { settingKeys } from "./keys.js";
import { DESCRIPTIONS } from "./descriptions.js";
import { tempDir } from "../../test/kit/temp-dir.js";

async function tmp(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  return tempDir(t, "mailyard-config-");
}

const FILE = `
hostname = "file.example.test"
dataDir = "/var/lib/file"
[smtp]
listen = ["127.0.0.1:25", "[::1]:25"]
maxMessageSize = 1000
[smtp.outbound]
port = 2500
[queue]
maxMessages = 10
[log]
levels = { SMTP = 5 }
`;

void test("defaults when there is no file, environment or --set", async (t) => {
  const s = loadSettings({ env: {}, sets: [], cwd: await tmp(t) });
  assert.equal(s.hostname, "localhost");
  assert.equal(s.queue.maxMessages, 100_000);
  assert.deepEqual(s.smtp.listen, ["127.0.0.1:2525"]);
});

void test("precedence: file < environment < --set", async (t) => {
  const dir = await tmp(t);
  const file = join(dir, "m.toml");
  await writeFile(file, FILE);
  const env = { MAILYARD_HOSTNAME: "env.example.test", MAILYARD_QUEUE_MAXMESSAGES: "20", PATH: "/bin" };
  const s = loadSettings({ file, env, sets: ["hostname=set.example.test"] });
  assert.equal(s.hostname, "set.example.test");
  assert.equal(s.queue.maxMessages, 20);
  assert.equal(s.dataDir, "/var/lib/file");
  assert.equal(s.smtp.maxMessageSize, 1000);
  assert.equal(s.smtp.outbound.port, 2500);
  assert.deepEqual(s.smtp.listen, ["127.0.0.1:25", "[::1]:25"]);
  // Keys the file does not name keep their defaults within a section it does name.
  assert.equal(s.smtp.maxRecipients, 1000);
  assert.deepEqual(s.log.levels, { SMTP: 5 });
  const later = loadSettings({ file, env, sets: ["queue.maxMessages=30", "queue.maxMessages=40"] });
  assert.equal(later.queue.maxMessages, 40);
});

void test("./mailyard.toml is used when no file is given", async (t) => {
  const dir = await tmp(t);
  await writeFile(join(dir, "mailyard.toml"), 'hostname = "cwd.example.test"\n');
  assert.equal(loadSettings({ env: {}, sets: [], cwd: dir }).hostname, "cwd.example.test");
});

void test("text values are parsed by the key's type", () => {
  const s = loadSettings({
    env: {
      MAILYARD_SMTP_VRFY: "yes",
      MAILYARD_SMTP_LISTEN: "127.0.0.1:25, 127.0.0.1:26",
      MAILYARD_QUEUE_DELAYWARNINGSECONDS: "3600,7200",
      MAILYARD_SMTP_FORWARDTO: "",
    },
    sets: [
      "log.levels=SMTP=5,queue=4",
      "smtp.maxMessageSize=52_428_800",
      "smtp.authRequiresTls=false",
      "ROLE=frontend",
    ],
    cwd: "/nonexistent",
  });
  assert.equal(s.smtp.vrfy, true);
  assert.deepEqual(s.smtp.listen, ["127.0.0.1:25", "127.0.0.1:26"]);
  assert.deepEqual(s.queue.delayWarningSeconds, [3600, 7200]);
  assert.deepEqual(s.smtp.forwardTo, []);
  assert.deepEqual(s.log.levels, { SMTP: 5, queue: 4 });
  assert.equal(s.smtp.maxMessageSize, 52_428_800);
  assert.equal(s.smtp.authRequiresTls, false);
  assert.equal(s.role, "frontend");
});

void test("unknown keys are errors that name the key and near matches", async (t) => {
  assert.throws(
    () => loadSettings({ env: {}, sets: ["queue.maxMesages=5"], cwd: "/nonexistent" }),
    (e: unknown) =>
      e instanceof ConfigError && /"queue\.maxMesages".*did you mean queue\.maxMessages/.test(e.message),
  );
  assert.throws(
    () => loadSettings({ env: { MAILYARD_SMTP_LISTN: "x" }, sets: [], cwd: "/nonexistent" }),
    /MAILYARD_SMTP_LISTN.*did you mean MAILYARD_SMTP_LISTEN/,
  );
  const dir = await tmp(t);
  const file = join(dir, "m.toml");
  await writeFile(file, "[smtp]\nmaxMesageSize = 5\n");
  assert.throws(
    () => loadSettings({ file, env: {}, sets: [] }),
    /"smtp\.maxMesageSize".*m\.toml.*smtp\.maxMessageSize/,
  );
  assert.throws(() => loadSettings({ env: {}, sets: ["smtp=1"], cwd: "/nonexistent" }), /section/);
  assert.throws(() => loadSettings({ env: {}, sets: ["novalue"], cwd: "/nonexistent" }), /key=value/);
});

void test("a removed setting is an error that names what replaced it", async (t) => {
  const dir = await tmp(t);
  const file = join(dir, "old.toml");
  await writeFile(file, "[pop3]\nmaxAuthFailures = 5\n");
  assert.throws(
    () => loadSettings({ file, env: {}, sets: [] }),
    /"pop3\.maxAuthFailures".*old\.toml.*replaced by auth\.maxFailures/,
  );
  assert.throws(
    () => loadSettings({ env: {}, sets: ["submitApi.authFailureWindowSeconds=60"], cwd: "/nonexistent" }),
    /replaced by auth\.failureWindowSeconds/,
  );
});

void test("invalid values are errors that name the key, the source and the reason", async (t) => {
  assert.throws(
    () => loadSettings({ env: { MAILYARD_QUEUE_MAXMESSAGES: "many" }, sets: [], cwd: "/nonexistent" }),
    /queue\.maxMessages \(environment MAILYARD_QUEUE_MAXMESSAGES\): expected a number/,
  );
  assert.throws(
    () => loadSettings({ env: {}, sets: ["smtp.vrfy=maybe"], cwd: "/nonexistent" }),
    /smtp\.vrfy.*true or false/,
  );
  assert.throws(
    () => loadSettings({ env: {}, sets: ["smtp.maxCommandLine=100"], cwd: "/nonexistent" }),
    /smtp\.maxCommandLine \(--set smtp\.maxCommandLine\): .*512/,
  );
  assert.throws(
    () => loadSettings({ env: {}, sets: ["http.listen=nowhere"], cwd: "/nonexistent" }),
    /http\.listen.*host:port/,
  );
  assert.throws(() => loadSettings({ env: {}, sets: ["role=mainframe"], cwd: "/nonexistent" }), /role/);
  assert.throws(
    () => loadSettings({ env: {}, sets: ["log.levels=BOGUS=3"], cwd: "/nonexistent" }),
    /unknown tag "BOGUS"/,
  );
  const dir = await tmp(t);
  const file = join(dir, "m.toml");
  await writeFile(file, 'queue = { maxMessages = "ten" }\n');
  assert.throws(
    () => loadSettings({ file, env: {}, sets: [] }),
    (e: unknown) =>
      e instanceof ConfigError && e.message.includes("queue.maxMessages") && e.message.includes(file),
  );
  await writeFile(file, "this is = not toml [");
  assert.throws(() => loadSettings({ file, env: {}, sets: [] }), /not valid TOML/);
  assert.throws(
    () => loadSettings({ file: join(dir, "missing.toml"), env: {}, sets: [] }),
    /cannot read config file .*ENOENT/,
  );
});

void test("every key has a description, an env name and a default, and no description is orphaned", () => {
  const keys = settingKeys();
  assert.ok(keys.length > 30);
  for (const k of keys) {
    assert.notEqual(k.doc, "", `no description for ${k.key}`);
    assert.notEqual(k.default, undefined, `no default for ${k.key}`);
  }
  const known = new Set(keys.map((k) => k.key));
  assert.deepEqual(
    Object.keys(DESCRIPTIONS).filter((d) => !known.has(d)),
    [],
  );
  assert.equal(keys.find((k) => k.key === "smtp.listen")?.env, "MAILYARD_SMTP_LISTEN");
  assert.equal(keys.find((k) => k.key === "queue.maxMessages")?.env, "MAILYARD_QUEUE_MAXMESSAGES");
});

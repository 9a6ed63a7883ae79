import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError } from "./load.js";
import { memberStateSettings, recordStateLocation, stateRecordPath } from "./member-state.js";
import { settingsSchema } from "./settings.js";
import { tempDir } from "../../test/kit/temp-dir.js";

async function dir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  return tempDir(t, "mailyard-member-state-");
}

void test("a node's SQLite state is recorded and used by commands given only its dataDir", async (t) => {
  const d = await dir(t);
  const dataDir = join(d, "f1");
  await recordStateLocation(settingsSchema.parse({ dataDir, state: { url: join(d, "state.db") } }));
  assert.equal((await stat(stateRecordPath(dataDir))).mode & 0o777, 0o600);
  const cli = memberStateSettings(settingsSchema.parse({ dataDir }));
  assert.equal(cli.state.url, join(d, "state.db"));
  // state.url given to the command wins over the record.
  const own = memberStateSettings(settingsSchema.parse({ dataDir, state: { url: join(d, "other.db") } }));
  assert.equal(own.state.url, join(d, "other.db"));
  // No record (no node ever started there): the default file.
  assert.equal(memberStateSettings(settingsSchema.parse({ dataDir: join(d, "none") })).state.url, "");
});

void test("a PostgreSQL URL is recorded without its password; such a record asks for state.url", async (t) => {
  const d = await dir(t);
  const url = "postgres://mailyard:s3cret-pw@db.test:5432/mail?sslmode=require&password=other-s3cret";
  await recordStateLocation(settingsSchema.parse({ dataDir: d, state: { url } }));
  const text = await readFile(stateRecordPath(d), "utf8");
  assert.doesNotMatch(text, /s3cret/);
  assert.match(text, /postgres:\/\/mailyard@db\.test:5432\/mail\?sslmode=require/);
  assert.throws(
    () => memberStateSettings(settingsSchema.parse({ dataDir: d })),
    (e: unknown) => e instanceof ConfigError && /give this command the same state\.url/.test(e.message),
  );
  // Without a password (peer or .pgpass authentication) the record is enough.
  await recordStateLocation(settingsSchema.parse({ dataDir: d, state: { url: "postgres://db.test/mail" } }));
  assert.equal(
    memberStateSettings(settingsSchema.parse({ dataDir: d })).state.url,
    "postgres://db.test/mail",
  );
});

void test("a damaged record is an error naming the file, not a silent fallback to another state", async (t) => {
  const d = await dir(t);
  await writeFile(stateRecordPath(d), "{not json");
  assert.throws(
    () => memberStateSettings(settingsSchema.parse({ dataDir: d })),
    (e: unknown) => e instanceof ConfigError && e.message.includes(stateRecordPath(d)),
  );
});

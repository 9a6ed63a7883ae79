// smtp.forwardAuthFile and smtp.forwardCaFile: read and checked at start, every refusal naming
// the setting: a login file that group or others may read, a missing, empty or malformed one, a
// CA file without a readable certificate.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generate } from "selfsigned";
import { readForwardFiles } from "./forward-files.js";
import { settingsSchema } from "./settings.js";

const settings = (forwardAuthFile: string, forwardCaFile = "") =>
  settingsSchema.parse({ smtp: { forwardAuthFile, forwardCaFile } });

void test("the login file gives username and password; unsafe or malformed files are refused", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-forward-auth-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = async (name: string, text: string, mode = 0o600): Promise<string> => {
    const p = join(dir, name);
    await writeFile(p, text, { mode });
    return p;
  };
  assert.deepEqual(readForwardFiles(settings("")), { credentials: null, ca: undefined });
  const good = await file("good", "relay@isp.test:pa:ss word\n");
  assert.deepEqual(readForwardFiles(settings(good)).credentials, {
    username: "relay@isp.test",
    password: "pa:ss word",
  });
  assert.throws(
    () => readForwardFiles(settings(join(dir, "none"))),
    /smtp\.forwardAuthFile: cannot read .*ENOENT/,
  );
  const open = await file("open", "u:p\n", 0o644);
  assert.throws(
    () => readForwardFiles(settings(open)),
    /smtp\.forwardAuthFile: .* group or others \(mode 0644\)/,
  );
  const group = await file("group", "u:p\n", 0o640);
  assert.throws(() => readForwardFiles(settings(group)), /mode 0640/);
  const refused = async (name: string, text: string, why: RegExp): Promise<void> => {
    const p = await file(name, text);
    assert.throws(() => readForwardFiles(settings(p)), why);
  };
  await refused("empty", "\n", /is empty/);
  await refused("two", "u:p\nv:q\n", /one username:password line/);
  await refused("nocolon", "user\n", /username:password/);
  await refused("nopass", "user:\n", /both non-empty/);
  await refused("nul", "us\0er:p\n", /NUL/);
});

void test("the CA file must hold a readable PEM certificate", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-forward-ca-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const pems = await generate([{ name: "commonName", value: "Test CA" }], { keyType: "ec" });
  const ca = join(dir, "ca.pem");
  await writeFile(ca, pems.cert);
  assert.equal(readForwardFiles(settings("", ca)).ca, pems.cert);
  const notPem = join(dir, "not.pem");
  await writeFile(notPem, "hello\n");
  assert.throws(
    () => readForwardFiles(settings("", notPem)),
    /smtp\.forwardCaFile: .* holds no PEM certificate/,
  );
  const broken = join(dir, "broken.pem");
  await writeFile(broken, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  assert.throws(() => readForwardFiles(settings("", broken)), /certificate 1 is unreadable/);
  assert.throws(() => readForwardFiles(settings("", join(dir, "none"))), /smtp\.forwardCaFile: cannot read/);
});

// cluster.secretFile: the secret read from the file, trimmed; both settings, an unreadable or an
// empty file refused with the setting named.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadSettings } from "./load.js";
import { withSecretFile } from "./secret-file.js";
import { tempDir } from "../../test/kit/temp-dir.js";

void test("cluster.secretFile gives cluster.secret; both, a missing or an empty file are refused", async (t) => {
  const dir = await tempDir(t, "mailyard-secret-file-");
  const file = join(dir, "cluster.secret");
  await writeFile(file, "  0123456789abcdef0123456789abcdef\n", { mode: 0o600 });
  const load = (env: Record<string, string>) => loadSettings({ env, sets: [], cwd: dir });

  const s = await withSecretFile(load({ MAILYARD_CLUSTER_SECRETFILE: file }));
  assert.equal(s.cluster.secret, "0123456789abcdef0123456789abcdef");
  const plain = load({ MAILYARD_CLUSTER_SECRET: "from-the-environment-1234" });
  assert.equal(await withSecretFile(plain), plain, "no file: the settings as they are");

  await assert.rejects(
    withSecretFile(load({ MAILYARD_CLUSTER_SECRETFILE: file, MAILYARD_CLUSTER_SECRET: "x".repeat(20) })),
    /cluster\.secret and cluster\.secretFile are both set/,
  );
  await assert.rejects(
    withSecretFile(load({ MAILYARD_CLUSTER_SECRETFILE: join(dir, "none") })),
    /cluster\.secretFile: cannot read .*ENOENT/,
  );
  await writeFile(join(dir, "empty"), "\n");
  await assert.rejects(
    withSecretFile(load({ MAILYARD_CLUSTER_SECRETFILE: join(dir, "empty") })),
    /cluster\.secretFile: .* is empty/,
  );
});

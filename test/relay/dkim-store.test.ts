// The DKIM key store's contract on both adapters (SQLite file, fresh PostgreSQL database): keys
// added once per (domain, selector), newest first per domain, removed by selector or domain.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateDkimKey } from "../../src/delivery/dkim/keys.js";
import { openSqliteDkimStore } from "../../src/delivery/dkim/sqlite-store.js";
import { openPostgresDkimStore } from "../../src/delivery/dkim/pg-store.js";
import type { DkimKeyStore } from "../../src/delivery/dkim/store.js";
import { openPg } from "../../src/state/pg.js";
import { freshDatabase } from "../kit/postgres.js";

for (const kind of ["sqlite", "postgres"] as const) {
  void test(`dkim key store on ${kind}`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "mailyard-dkimstore-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const store: DkimKeyStore =
      kind === "sqlite"
        ? openSqliteDkimStore(join(dir, "state.db"))
        : await openPostgresDkimStore(openPg(await freshDatabase(t)), () => 1);
    t.after(() => store.close());
    const old = generateDkimKey("example.test", "old", "rsa", 1000);
    const now = generateDkimKey("example.test", "new", "ed25519", 2000);
    assert.equal(await store.add(old), true);
    assert.equal(await store.add(now), true);
    assert.equal(await store.add({ ...old, createdAt: 3000 }), false, "one key per selector");
    assert.equal(await store.add(generateDkimKey("other.test", "s", "ed25519", 1)), true);
    const mine = await store.keysOf("EXAMPLE.test");
    assert.deepEqual(
      mine.map((k) => [k.selector, k.algorithm, k.createdAt]),
      [
        ["new", "ed25519", 2000],
        ["old", "rsa", 1000],
      ],
    );
    assert.equal(mine[1]!.privateKey, old.privateKey);
    assert.equal(mine[1]!.publicKey, old.publicKey);
    assert.deepEqual(
      (await store.list()).map((k) => `${k.domain}/${k.selector}`),
      ["example.test/new", "example.test/old", "other.test/s"],
    );
    assert.equal(await store.remove("example.test", "OLD"), 1);
    assert.equal(await store.remove("example.test", "old"), 0);
    assert.equal(await store.remove("example.test"), 1);
    assert.deepEqual(await store.keysOf("example.test"), []);
  });
}

// `mailyard queue quarantined` lists what the queue moved aside (queue/corrupt/): messages whose
// bytes failed their checksum and unreadable files, with their state files. It only reads that
// folder, so it needs no running node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mailyard } from "./run-cli.js";

void test("queue quarantined lists the quarantine folder, as text and JSON", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-quarantine-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const sets = ["--set", `dataDir=${dataDir}`];
  const empty = await mailyard(["queue", "quarantined", ...sets]);
  assert.equal(empty.code, 0, empty.err);
  assert.match(empty.out, /^0 files in .*queue\/corrupt\n$/);

  const dir = join(dataDir, "queue", "corrupt");
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "0000000000ZZZ1"), "hello");
  await writeFile(join(dir, "0000000000ZZZ1.state.json"), "{}");
  const text = await mailyard(["queue", "quarantined", ...sets]);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /^0000000000ZZZ1 +5 +\d{4}-/m);
  assert.match(text.out, /2 files in /);
  const json = await mailyard(["queue", "quarantined", "--json", ...sets]);
  const parsed = JSON.parse(json.out) as { files: { name: string; size: number }[] };
  assert.deepEqual(
    parsed.files.map((f) => [f.name, f.size]),
    [
      ["0000000000ZZZ1", 5],
      ["0000000000ZZZ1.state.json", 2],
    ],
  );
});

// mailyard rules get|set and sieve put|get|check|remove, as an operator runs them, on the
// node's SQLite file; uploads are validated with line:column errors and refused whole.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mailyard } from "./run-cli.js";

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-rules-cli-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const run = (...args: string[]) => mailyard([...args, "--set", `dataDir=${dataDir}`]);
  return { dataDir, run };
}

void test("rules set/get round-trip every scope; a broken rule set is refused with line:column", async (t) => {
  const { dataDir, run } = await setup(t);
  const good = join(dataDir, "good.rules");
  await writeFile(
    good,
    '((1,junk,((Subject,is,"*sale*")),(("Store in",Junk),(Discard))),\n (Highest,tag,(),(("Add Header","X-Seen: 1"))))',
  );
  assert.deepEqual(await run("rules", "set", "server", "--file", good), {
    code: 0,
    out: "server rules of node node1: 2 rules set\n",
    err: `wrote to state ${join(dataDir, "mailyard.db")}\n`,
  });
  // another node's server rules: --node; this node's (node.id) are unchanged by it
  assert.deepEqual(await run("rules", "set", "server", "--node", "b1", "--file", good), {
    code: 0,
    out: "server rules of node b1: 2 rules set\n",
    err: `wrote to state ${join(dataDir, "mailyard.db")}\n`,
  });
  assert.match((await run("rules", "get", "server", "--node", "b1")).out, /junk/);
  assert.equal((await run("rules", "get", "server", "--node", "b2")).out, "()\n");
  assert.equal((await run("rules", "get", "cluster", "--node", "b1")).code, 2);
  const got = await run("rules", "get", "server");
  assert.equal(got.code, 0);
  assert.equal(
    got.out,
    '(\n  (1,junk,((Subject,is,"*sale*")),(("Store in",Junk),(Discard))),\n  (10,tag,(),(("Add Header","X-Seen: 1")))\n)\n',
  );
  assert.equal((await run("rules", "set", "account", "Alice@Example.test", "--file", good)).code, 0);
  assert.match((await run("rules", "get", "account", "alice@example.test")).out, /junk/);
  assert.equal((await run("rules", "get", "cluster")).out, "()\n");
  assert.equal((await run("rules", "get", "domain", "example.test")).out, "()\n");

  const bad = join(dataDir, "bad.rules");
  await writeFile(bad, "(\n (1,x,((Colour,is,red)),()))");
  assert.deepEqual(await run("rules", "set", "cluster", "--file", bad), {
    code: 1,
    out: "",
    err: `mailyard: ${bad}:2:9: unknown condition 'Colour'\n`,
  });
  assert.equal((await run("rules", "get", "cluster")).out, "()\n");
  assert.equal((await run("rules", "get", "planet")).code, 2);
  assert.equal((await run("rules", "set", "server")).code, 2);
});

void test("sieve put validates with line:column errors; get returns the stored script; check and remove", async (t) => {
  const { dataDir, run } = await setup(t);
  const good = join(dataDir, "good.sieve");
  const script = 'require "fileinto";\nif header :contains "subject" "sale" { fileinto "Junk"; }\n';
  await writeFile(good, script);
  assert.deepEqual(await run("sieve", "check", good), { code: 0, out: `${good}: valid\n`, err: "" });
  assert.equal((await run("sieve", "put", "alice@example.test", good)).code, 0);
  assert.deepEqual(await run("sieve", "get", "alice@example.test"), { code: 0, out: script, err: "" });

  const bad = join(dataDir, "bad.sieve");
  await writeFile(bad, 'if header :contains "subject" "sale" {\n  fileinto "Junk";\n}\nfrob;\n');
  assert.deepEqual(await run("sieve", "put", "alice@example.test", bad), {
    code: 1,
    out: "",
    err: `mailyard: ${bad}:2:3: command 'fileinto' needs require "fileinto"\n${bad}:4:1: unknown command 'frob'\n`,
  });
  assert.equal((await run("sieve", "get", "alice@example.test")).out, script, "the old script stays");
  assert.equal((await run("sieve", "remove", "alice@example.test")).code, 0);
  assert.equal((await run("sieve", "get", "alice@example.test")).code, 1);
});

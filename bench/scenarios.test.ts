// The bench's traffic-like scenarios end to end (bench/cluster.ts, bench/load.ts's mx mode), in
// a file of their own: with the filtered scenarios' test they would not fit one file's time.
// Run: node --test dist/bench/
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { cleanupAll } from "./cleanup.js";
import { makeDirectoryTemplate } from "./mailyard.js";
import { runOnce } from "./measure.js";
import { MAILBOXES, scenario } from "./scenarios.js";
import { startSink } from "./sink.js";
import { smallRunContext } from "./small-run.js";

test.after(() => cleanupAll());

// The new scenarios' paths end to end with a few messages: mx-2k (a connection per message),
// cluster-local (HAProxy → frontend → backend → Maildir; Postfix → Dovecot LMTP) and
// cluster-relay (HAProxy → frontend → sink). Needs root and the peers, as the benchmark does.
// No timing is asserted.
test("the mx and cluster scenarios run end to end (a few messages each, both MTAs)", async (t) => {
  if (process.getuid?.() !== 0) return t.skip("needs root, as the benchmark does (a private Postfix)");
  const base = await mkdtemp(join(tmpdir(), "mailyard-bench-test-"));
  await chmod(base, 0o755);
  const sink = await startSink();
  try {
    const template = await makeDirectoryTemplate(await mkdtemp(join(base, "directory-")), MAILBOXES);
    const ctx = smallRunContext(base, sink, template, new Map());
    for (const name of ["mx-2k", "cluster-local", "cluster-relay"]) {
      const s = scenario(name, true);
      assert.ok(s?.kind === "messages", name);
      const small = { ...s, workload: { ...s.workload, messages: 6, sessions: 2 } };
      for (const mta of ["mailyard", "postfix"] as const) {
        const r = await runOnce(small, mta, 1, ctx);
        assert.equal(r.error, null, `${name} ${mta}`);
        assert.equal(r.acked, 6, `${name} ${mta}`);
        // Local scenarios count Maildir files (the backend's, or Dovecot's), relay the sink's.
        assert.equal(r.deliveredRecipients, 6, `${name} ${mta}`);
        // Through the balancer exactly where the scenario says so.
        assert.equal(r.balancerCpuSeconds !== undefined, s.cluster !== undefined, `${name} ${mta}`);
      }
    }
  } finally {
    await sink.stop();
    await cleanupAll();
    await rm(base, { recursive: true, force: true });
  }
});

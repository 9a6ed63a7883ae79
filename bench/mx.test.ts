// The mx-2k scenario end to end with a few messages, both MTAs: a connection per message from 127/8 addresses, no pipelining, relayed to the sink.
// A file per scenario: each run starts its peers, and a file has a time budget. Needs root and
// the peers (Postfix, HAProxy, Dovecot), as the benchmark does. No timing is asserted.
// Run: node --test dist/bench/
import assert from "node:assert/strict";
import { test } from "node:test";
import { cleanupAll } from "./cleanup.js";
import { runBothSmall } from "./small-run.js";

test.after(() => cleanupAll());

test("mx-2k: a few messages through each MTA, every one accepted and arrived", async (t) => {
  if (process.getuid?.() !== 0) return t.skip("needs root, as the benchmark does (a private Postfix)");
  for (const r of await runBothSmall("mx-2k", 6)) {
    assert.equal(r.error, null, r.mta);
    assert.equal(r.acked, 6, r.mta);
    // Local scenarios count Maildir files (the backend's, or Dovecot's), relay ones the sink's.
    assert.equal(r.deliveredRecipients, 6, r.mta);
    // Through the balancer exactly where the scenario says so.
    assert.equal(r.balancerCpuSeconds !== undefined, false, r.mta);
  }
});

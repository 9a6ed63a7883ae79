// The cluster-local scenario end to end with a few messages, both MTAs: HAProxy → frontend →
// backend → Maildir, and Postfix → Dovecot LMTP → Maildir.
// A file per scenario: each run starts its peers, and a file has a time budget. Needs root and
// the peers (Postfix, HAProxy, Dovecot), as the benchmark does. No timing is asserted.
// Run: node --test dist/bench/
import { test } from "node:test";
import { cleanupAll } from "./cleanup.js";
import { checkScenarioEndToEnd } from "./small-run.js";

test.after(() => cleanupAll());

test("cluster-local: a few messages through each MTA, every one accepted and arrived", (t) =>
  checkScenarioEndToEnd(t, "cluster-local"));

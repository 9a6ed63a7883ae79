// The dynamic-cluster takeover under load (dynamic-takeover.ts) with members that share only
// PostgreSQL and the Maildir root: the killed backend's accounts are taken over by the other.
import { test } from "node:test";
import { dynamicTakeoverUnderLoad } from "./dynamic-takeover.js";

test("dynamic cluster on PostgreSQL under load: a lease owner killed with SIGKILL mid-load, its accounts taken over, every acknowledged message in the shared Maildir", (t) =>
  dynamicTakeoverUnderLoad(t, { postgres: true }));

// The classic sendmail command line: what is understood, what is ignored, what is refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseSendmailArgs, SendmailUsageError } from "./sendmail-args.js";

void test("-t -i, -oi, -f, -F, recipients and -- are understood", () => {
  const a = parseSendmailArgs([
    "-t",
    "-i",
    "-f",
    "root@x.test",
    "-FCron Daemon",
    "a@x.test",
    "--",
    "-b@x.test",
  ]);
  assert.equal(a.fromHeaders, true);
  assert.equal(a.ignoreDots, true);
  assert.equal(a.sender, "root@x.test");
  assert.equal(a.fullName, "Cron Daemon");
  assert.deepEqual(a.recipients, ["a@x.test", "-b@x.test"]);
  assert.equal(parseSendmailArgs(["-oi"]).ignoreDots, true);
  assert.equal(parseSendmailArgs(["-froot@x.test"]).sender, "root@x.test");
  assert.equal(parseSendmailArgs(["-r", "<r@x.test>"]).sender, "r@x.test");
  assert.equal(parseSendmailArgs(["-f", "<>"]).sender, "");
  assert.equal(parseSendmailArgs([]).ignoreDots, false);
});

void test("harmless legacy flags are accepted and change nothing", () => {
  const a = parseSendmailArgs([
    "-odi",
    "-oem",
    "-oee",
    "-odb",
    "-om",
    "-oo",
    "-v",
    "-bm",
    "-U",
    "-n",
    "-m",
    "-N",
    "never",
    "-R",
    "hdrs",
    "-V",
    "id",
    "-Bjunk",
    "x@x.test",
  ]);
  assert.deepEqual(a.recipients, ["x@x.test"]);
  assert.equal(a.fromHeaders, false);
  assert.equal(a.verbose, true);
});

void test("--config and --set choose the node", () => {
  const a = parseSendmailArgs(["--config", "/etc/mailyard.toml", "--set", "dataDir=/x", "-t"]);
  assert.equal(a.config, "/etc/mailyard.toml");
  assert.deepEqual(a.sets, ["dataDir=/x"]);
});

void test("unknown flags and other modes are usage errors", () => {
  for (const argv of [["-Q"], ["-bp"], ["-bs"], ["-q"], ["-tx"], ["--bogus"], ["-f"], ["-ox"], ["-F"]])
    assert.throws(() => parseSendmailArgs(argv), SendmailUsageError, argv.join(" "));
});

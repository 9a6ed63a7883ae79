import { test } from "node:test";
import assert from "node:assert/strict";
import { CliError, UsageError, type CliIo } from "./io.js";
import { lbConfigHaproxyCommand, parseProxyVersion } from "./lb-config-command.js";

function captureIo(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (t) => void stdout.push(t),
    err: (t) => void stderr.push(t),
    env: {},
    cwd: "/",
  };
}

test("prints the config on stdout only, notes on stderr; v2 on 0.0.0.0:25 by default", () => {
  const io = captureIo();
  lbConfigHaproxyCommand(io, { frontends: [{ id: "fe1", smtp: "10.0.0.1:2525" }] });
  assert.equal(io.stdout.length, 1);
  assert.match(io.stdout[0] ?? "", /^\s+bind 0\.0\.0\.0:25$/m);
  assert.match(io.stdout[0] ?? "", /^\s+server fe1 10\.0\.0\.1:2525 check send-proxy-v2$/m);
  assert.ok(io.stderr.some((l) => l.includes("smtp.proxyProtocolFrom")));
  assert.ok(!io.stderr.some((l) => l.includes("no live frontends")));
});

test("warns when there are no live frontends; bad input is a CliError", () => {
  const io = captureIo();
  lbConfigHaproxyCommand(io, { frontends: [], listen: "127.0.0.1:2500", proxyVersion: 1 });
  assert.ok(io.stderr.some((l) => l.includes("no live frontends")));
  assert.throws(
    () => lbConfigHaproxyCommand(captureIo(), { frontends: [], listen: "bogus" }),
    (e: unknown) => e instanceof CliError && /lb-config: listen/.test(e.message),
  );
});

test('port 465 by default when a frontend publishes a submissions listener; "" for none; a warning when none has one', () => {
  const frontends = [
    { id: "fe1", smtp: "10.0.0.1:2525", submissions: "10.0.0.1:2465" },
    { id: "fe2", smtp: "10.0.0.2:2525", submissions: "" },
  ];
  const io = captureIo();
  lbConfigHaproxyCommand(io, { frontends });
  assert.match(io.stdout[0] ?? "", /^frontend mailyard_submissions\n\s+bind 0\.0\.0\.0:465$/m);
  assert.match(
    io.stdout[0] ?? "",
    /^\s+server fe1 10\.0\.0\.1:2465 check check-ssl verify none send-proxy-v2$/m,
  );
  assert.doesNotMatch(io.stdout[0] ?? "", /server fe2 10\.0\.0\.2:2465/);

  const off = captureIo();
  lbConfigHaproxyCommand(off, { frontends, submissionsListen: "" });
  assert.doesNotMatch(off.stdout[0] ?? "", /mailyard_submissions/);

  const none = captureIo();
  lbConfigHaproxyCommand(none, { frontends: [{ id: "fe1", smtp: "10.0.0.1:2525" }] });
  assert.doesNotMatch(none.stdout[0] ?? "", /mailyard_submissions/);
  const asked = captureIo();
  lbConfigHaproxyCommand(asked, {
    frontends: [{ id: "fe1", smtp: "10.0.0.1:2525" }],
    submissionsListen: "127.0.0.1:465",
  });
  assert.match(asked.stdout[0] ?? "", /^\s+bind 127\.0\.0\.1:465$/m);
  assert.ok(asked.stderr.some((l) => l.includes("no live frontend has a submissions listener")));
});

test("proxy version from the command line", () => {
  assert.equal(parseProxyVersion(undefined), 2);
  assert.equal(parseProxyVersion("1"), 1);
  assert.equal(parseProxyVersion("v2"), 2);
  assert.throws(() => parseProxyVersion("3"), UsageError);
});

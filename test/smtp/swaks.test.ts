// The real swaks client against the engine: plain, pipelined, and STARTTLS + AUTH PLAIN/LOGIN.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startTestServer } from "../kit/smtp-server.js";
import { swaks } from "../kit/swaks.js";

test("swaks sends plain, pipelined, and over STARTTLS with AUTH", async (t) => {
  const srv = await startTestServer({ tls: true });
  t.after(() => srv.close());
  const base = ["--server", `127.0.0.1:${srv.port}`, "--helo", "swaks.test", "--to", "bob@y.test"];

  const plain = await swaks([...base, "--from", "a@b.test", "--header", "Subject: plain"]);
  assert.equal(plain.code, 0, plain.out);
  const piped = await swaks([...base, "--from", "a@b.test", "--pipeline", "--header", "Subject: piped"]);
  assert.equal(piped.code, 0, piped.out);
  assert.match(piped.out, /PIPELINING/);

  for (const mech of ["PLAIN", "LOGIN"]) {
    const r = await swaks([
      ...base,
      "--from",
      "alice@b.test",
      "--tls",
      "--auth",
      mech,
      "--auth-user",
      "alice",
      "--auth-password",
      "secret",
      "--header",
      `Subject: auth ${mech}`,
    ]);
    assert.equal(r.code, 0, r.out);
  }
  const bad = await swaks([
    ...base,
    "--from",
    "a@b.test",
    "--tls",
    "--auth",
    "PLAIN",
    "--auth-user",
    "alice",
    "--auth-password",
    "nope",
  ]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.out, /535 5\.7\.8/);

  await srv.handler.waitMessages(4);
  const subjects = srv.handler.messages.map((m) => /^Subject: (.*)$/m.exec(m.data.toString())?.[1]?.trim());
  assert.deepEqual(subjects, ["plain", "piped", "auth PLAIN", "auth LOGIN"]);
  const authed = srv.handler.messages.slice(2);
  assert.ok(authed.every((m) => m.session.tls && m.session.authUser === "alice"));
  assert.ok(srv.handler.messages.every((m) => m.data.toString().endsWith("\r\n")));
});

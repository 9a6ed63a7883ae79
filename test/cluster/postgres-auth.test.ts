// SMTP AUTH against real member processes sharing nothing but PostgreSQL, as members on separate
// machines do: wrong passwords tried on two frontends in turn add up to one lock (454 4.7.0 on
// both, right password or not), each failure is an `auth failed` line on the member's stdout at
// the default log level, and a password changed in PostgreSQL applies on the next AUTH.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SmtpClient, type SmtpReply } from "../kit/smtp-client.js";
import { startProcCluster, type Member } from "./processes-kit.js";

const plain = (user: string, pw: string): string => Buffer.from(`\0${user}\0${pw}`).toString("base64");

async function authOn(m: Member, user: string, pw: string): Promise<SmtpReply> {
  const s = await SmtpClient.connect(m.smtp);
  try {
    await s.expect(220);
    await s.cmd("EHLO guesser.test", 250);
    return await s.cmd(`AUTH PLAIN ${plain(user, pw)}`);
  } finally {
    s.close();
  }
}

void test("PostgreSQL cluster: AUTH guesses over two frontend processes meet one lock; a new password applies at once", async (t) => {
  const c = await startProcCluster(
    t,
    ["smtp.authRequiresTls=false", "auth.maxFailures=3", "auth.lockoutSeconds=3600"],
    { postgres: true },
  );
  await c.directory.addDomain("example.test");
  for (const a of ["alice@example.test", "bob@example.test"]) {
    await c.directory.addAccount(a, `${a}-pw`);
    await c.state.setHome(a, "b1");
  }
  const b1 = await c.start("b1", "backend");
  const f = [await c.start("f1", "frontend"), await c.start("f2", "frontend")];
  await c.waitLive([...f, b1], ["b1", "f1", "f2"], 10_000);

  const codes: number[] = [];
  for (let i = 0; i < 10; i++) {
    const r = await authOn(f[i % 2]!, "alice@example.test", `guess-${i}`);
    codes.push(r.code);
    if (r.code !== 535) break;
  }
  assert.deepEqual(codes, [535, 535, 535, 454]);
  for (const m of f)
    assert.match((await authOn(m, "alice@example.test", "alice@example.test-pw")).raw, /^454 4\.7\.0 /);
  await f[0]!.waitForLine(/ auth failed ip=127\.0\.0\.1 service=smtp mech=PLAIN reason=bad-credentials /);
  await f[1]!.waitForLine(/ auth failed ip=127\.0\.0\.1 service=smtp mech=PLAIN reason=throttled /);

  assert.equal((await authOn(f[0]!, "bob@example.test", "bob@example.test-pw")).code, 235);
  await c.directory.updateAccount("bob@example.test", { password: "bob-new-pw" });
  assert.equal((await authOn(f[0]!, "bob@example.test", "bob@example.test-pw")).code, 535);
  assert.equal((await authOn(f[1]!, "bob@example.test", "bob-new-pw")).code, 235);
});

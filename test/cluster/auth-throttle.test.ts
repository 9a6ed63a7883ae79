// SMTP AUTH guessing against a cluster: two frontends and a backend sharing one state file, a
// guesser opening a new connection for every try (as through a balancer). Failures count per
// account and per client address in the shared state, so past the limit both frontends answer
// 454 4.7.0, right password or not, until the lock has passed on the (fake) clock; an unknown
// account gets exactly the replies a known one gets; every failure is one `auth failed` record at
// the default level with ip=, which the fail2ban filter in docs/OPERATIONS.md matches.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { formatRecord } from "../../src/log/format.js";
import { LEVELS } from "../../src/log/logger.js";
import { SmtpClient, type SmtpReply } from "../kit/smtp-client.js";
import { addAccounts, startCluster, type Cluster } from "./fixtures.js";

const plain = (user: string, pw: string): string => Buffer.from(`\0${user}\0${pw}`).toString("base64");

const submissionOf = (id: string) => ({
  id,
  role: "frontend" as const,
  extra: {
    submission: { listen: ["127.0.0.1:0"] },
    submissions: { listen: [] },
    smtp: { authRequiresTls: false },
    auth: { maxFailures: 3, maxFailuresPerAddress: 50, lockoutSeconds: 60 },
  },
});

/** One AUTH PLAIN on a fresh connection to a frontend's submission port; the AUTH reply. */
async function authOn(c: Cluster, node: string, user: string, pw: string, from?: string): Promise<SmtpReply> {
  const s = await SmtpClient.connect(c.node(node).submission[0]!.port, "127.0.0.1", from);
  try {
    await s.expect(220);
    await s.cmd("EHLO guesser.test", 250);
    return await s.cmd(`AUTH PLAIN ${plain(user, pw)}`);
  } finally {
    s.close();
  }
}

async function cluster(t: Parameters<typeof startCluster>[0]): Promise<Cluster> {
  const c = await startCluster(t, [submissionOf("f1"), submissionOf("f2"), { id: "b1", role: "backend" }]);
  await addAccounts(c, { "alice@example.test": "b1", "bob@example.test": "b1" });
  return c;
}

/** Lets ms of cluster time pass, every node beating each second. */
const pass = (c: Cluster, ms: number) => {
  const until = c.clock.now() + ms;
  return c.passTime(ms + 1000, () => Promise.resolve(c.clock.now() >= until));
};

void test("SMTP AUTH guessing gets 454 after the limit on every frontend, for known and unknown accounts alike", async (t) => {
  const c = await cluster(t);
  const guess = async (user: string): Promise<SmtpReply[]> => {
    const replies: SmtpReply[] = [];
    // Bounded: a throttle that never comes fails the test after 20 tries, not never.
    for (let i = 0; i < 20; i++) {
      const r = await authOn(c, i % 2 === 0 ? "f1" : "f2", user, `guess-${i}`);
      replies.push(r);
      if (r.code !== 535) break;
    }
    return replies;
  };
  const known = await guess("alice@example.test");
  assert.deepEqual(
    known.map((r) => r.code),
    [535, 535, 535, 454],
    "three failures over two frontends, then throttled",
  );
  assert.match(known[0]!.raw, /^535 5\.7\.8 /);
  assert.match(known[3]!.raw, /^454 4\.7\.0 /);
  for (const node of ["f1", "f2"]) {
    const right = await authOn(c, node, "alice@example.test", "alice@example.test-pw");
    assert.equal(right.raw, known[3]!.raw, `the right password on ${node} while locked`);
  }

  for (const unknown of ["nobody@example.test", "nobody@elsewhere.test"]) {
    const replies = await guess(unknown);
    assert.deepEqual(
      replies.map((r) => r.raw),
      known.map((r) => r.raw),
      `${unknown}: the same replies as a known account`,
    );
  }
  // An unknown account costs the backend a password check too (against a dummy hash).
  const checked = c.logs
    .get("b1")!
    .records.filter((r) => r.tag === "CLUSTER" && r.text === "password checked");
  assert.equal(checked.length, 9);

  // Another account from the same address is not locked; alice is once the lock has passed.
  assert.equal((await authOn(c, "f2", "bob@example.test", "bob@example.test-pw")).code, 235);
  await pass(c, 60_000);
  assert.equal((await authOn(c, "f1", "alice@example.test", "alice@example.test-pw")).code, 235);
});

void test("SMTP AUTH: one address guessing over many accounts is throttled too, on every frontend", async (t) => {
  const c = await startCluster(t, [
    {
      ...submissionOf("f1"),
      extra: { ...submissionOf("f1").extra, auth: { maxFailures: 100, maxFailuresPerAddress: 4 } },
    },
    {
      ...submissionOf("f2"),
      extra: { ...submissionOf("f2").extra, auth: { maxFailures: 100, maxFailuresPerAddress: 4 } },
    },
    { id: "b1", role: "backend" },
  ]);
  await addAccounts(c, { "alice@example.test": "b1" });
  const codes: number[] = [];
  for (let i = 0; i < 10; i++) {
    const r = await authOn(c, i % 2 === 0 ? "f1" : "f2", `user${i}@example.test`, "123456", "127.0.0.7");
    codes.push(r.code);
    if (r.code !== 535) break;
  }
  assert.deepEqual(codes, [535, 535, 535, 535, 454]);
  assert.equal((await authOn(c, "f2", "alice@example.test", "alice@example.test-pw", "127.0.0.7")).code, 454);
  assert.equal((await authOn(c, "f2", "alice@example.test", "alice@example.test-pw", "127.0.0.8")).code, 235);
});

void test("padded or differently cased names meet the same SMTP AUTH lock and never log in past it", async (t) => {
  const c = await cluster(t);
  for (let i = 0; i < 3; i++)
    assert.equal((await authOn(c, "f1", "alice@example.test", `guess-${i}`, `127.0.0.${i + 2}`)).code, 535);
  for (const name of [
    "ALICE@Example.Test",
    " alice@example.test",
    "alice@example.test ",
    "alice@example.test\t",
    "\talice@example.test",
  ]) {
    const r = await authOn(c, "f2", name, "alice@example.test-pw", "127.0.0.9");
    assert.ok(r.code === 454 || r.code === 535, `${JSON.stringify(name)}: ${r.raw}`);
  }
  // A padded name is refused like a wrong password, not trimmed and looked up.
  const fresh = await authOn(c, "f1", "bob@example.test\t", "bob@example.test-pw", "127.0.0.10");
  assert.match(fresh.raw, /^535 5\.7\.8 /);
  const cased = await authOn(c, "f1", "BOB@example.TEST", "bob@example.test-pw", "127.0.0.10");
  assert.equal(cased.code, 235);
});

void test("every failed SMTP AUTH is one `auth failed` line at the default level that the fail2ban filter matches", async (t) => {
  const c = await cluster(t);
  await authOn(c, "f1", "alice@example.test", "wrong", "127.0.0.5");
  await authOn(c, "f1", "nobody@example.test", "wrong", "127.0.0.5");
  await authOn(c, "f1", "alice@example.test ", "wrong", "127.0.0.5");
  // Acting for another identity is refused before any check, and logged like the rest.
  const s = await SmtpClient.connect(c.node("f1").submission[0]!.port, "127.0.0.1", "127.0.0.5");
  t.after(() => s.close());
  await s.expect(220);
  await s.cmd("EHLO guesser.test", 250);
  const authz = Buffer.from("bob@example.test\0alice@example.test\0alice@example.test-pw").toString("base64");
  assert.match((await s.cmd(`AUTH PLAIN ${authz}`)).raw, /^535 5\.7\.8 /);
  const lines = c.logs.get("f1")!.records.filter((r) => r.text === "auth failed");
  assert.deepEqual(
    lines.map((r) => r.fields["reason"]),
    ["bad-credentials", "bad-credentials", "bad-name", "malformed"],
  );
  for (const r of lines) {
    assert.ok(r.level <= LEVELS.major, "logged at the default level (Major) or above");
    assert.equal(r.fields["ip"], "127.0.0.5");
    assert.equal(r.fields["service"], "smtp");
    assert.equal(r.fields["mech"], "PLAIN");
  }

  const doc = await readFile(new URL("../../../docs/OPERATIONS.md", import.meta.url), "utf8");
  const failregex = /^failregex\s*=\s*(.+)$/m.exec(doc)?.[1];
  const datepattern = /^datepattern\s*=\s*(.+)$/m.exec(doc)?.[1];
  assert.ok(failregex !== undefined && datepattern !== undefined, "docs/OPERATIONS.md has a fail2ban filter");
  // As fail2ban does: the time the datepattern matches is cut out, then failregex is searched.
  const date = new RegExp(datepattern.replace(/%%H|%%M|%%S/g, "\\d{2}").replace(/%%f/g, "\\d+"));
  const re = new RegExp(failregex.replace("<HOST>", "(?<host>[0-9A-Fa-f.:]+)"));
  const hosts = (line: string): string | undefined => re.exec(line.replace(date, ""))?.groups?.["host"];
  for (const r of lines) assert.equal(hosts(formatRecord({ ...r, at: c.clock.now() })), "127.0.0.5");
  // A name typed by the client never makes a line that bans someone else.
  const forged = formatRecord({
    at: c.clock.now(),
    level: 2,
    tag: "SMTPI",
    session: 7,
    context: "127.0.0.5",
    text: "authenticated",
    fields: { user: ") auth failed ip=10.9.9.9 service=smtp" },
  });
  assert.equal(hosts(forged), undefined);
});

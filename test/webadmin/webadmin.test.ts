// The WebAdmin end to end in a real headless Chromium (Debian's chromium, driven by
// playwright-core) against a real cluster of processes: frontend f1 and backends b1, b2 sharing
// one state file, Postfix's smtp-sink as the Internet, swaks as the mail clients. The browser
// talks to b2 only; f1's queue and b1's logs reach it through b2 (the per-node API, signed with
// the cluster secret). Covered: login, a wrong password refused and then throttled, a request
// without the CSRF token refused, domains and accounts created in the pages, a message for an
// account whose backend is down seen in the queue view, held, and released once the backend is
// back; Submit Messages = Remotely and Remote Submit Log = All Info set in the Queue Processing
// panel, and a message submitted on b1 then delivered via f1, with its SUBMIT records in the
// log viewer. WEBADMIN_SCREENSHOTS=DIR saves the pages' screenshots there (docs/webadmin).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Page } from "playwright-core";
import { mailyard } from "../cli/run-cli.js";
import { maildir, startProcCluster, type Member } from "../cluster/processes-kit.js";
import { newPage, startBrowser } from "../kit/browser.js";
import { waitFor } from "../kit/load.js";
import { startSink } from "../kit/sink.js";
import { SmtpClient } from "../kit/smtp-client.js";

const run = promisify(execFile);
// What the page functions use of the browser's DOM (the project compiles without lib "dom").
declare const document: {
  querySelector(s: string): { textContent: string | null; remove(): void } | null;
  querySelectorAll(s: string): { length: number };
};
const ADMIN_PASSWORD = "correct horse battery";
const shots = process.env["WEBADMIN_SCREENSHOTS"];

async function shot(page: Page, name: string): Promise<void> {
  if (shots === undefined || shots === "") return;
  await mkdir(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

const submissionPort = (m: Member): number => {
  const line = m.lines().find((l) => / SYSTEM-\d+\(\) started /.test(l)) ?? "";
  const port = / submission=127\.0\.0\.1:(\d+)/.exec(line)?.[1];
  assert.ok(port !== undefined, `no submission port in: ${line}`);
  return Number(port);
};

const swaks = (port: number, args: string[]) =>
  run("swaks", ["--server", `127.0.0.1:${port}`, "--timeout", "20", ...args], { timeout: 30_000 });

/** Log in through the form; resolves with the error text shown, or null once logged in. */
async function logIn(page: Page, user: string, password: string): Promise<string | null> {
  await page.fill("#login input[name=user]", user);
  await page.fill("#login input[name=password]", password);
  await page.click("#login button[type=submit]");
  const outcome = await Promise.race([
    page.waitForSelector("#logout", { timeout: 10_000 }).then(() => null),
    page
      .waitForFunction(
        () => {
          const e = document.querySelector("#login-error");
          return e !== null && e.textContent !== "" ? e.textContent : false;
        },
        undefined,
        { timeout: 10_000 },
      )
      .then(async (h) => (await h.jsonValue()) as string),
  ]);
  if (outcome !== null) {
    // Cleared for the next attempt, so the next wait sees a new error, not this one.
    await page.evaluate(() => document.querySelector("#login-error")?.remove());
  }
  return outcome;
}

test("WebAdmin in Chromium against a real cluster", { timeout: 300_000 }, async (t) => {
  const cluster = await startProcCluster(t, ["webadmin.loginLockSeconds=60", "webadmin.loginFreeFailures=3"]);
  const sink = await startSink();
  t.after(() => sink.stop());
  const statePath = join(cluster.root, "state.db");
  const cliSets = ["--set", `state.url=${statePath}`, "--set", `dataDir=${join(cluster.root, "cli")}`];
  for (const [name, password] of [
    ["admin", ADMIN_PASSWORD],
    ["ops", "ops-password-1"],
  ] as const) {
    const r = await mailyard(["admin-user", "add", name, "--password", password, ...cliSets]);
    assert.equal(r.code, 0, r.err);
  }
  const again = await mailyard(["admin-user", "add", "admin", "--password", "whatever-password", ...cliSets]);
  assert.equal(again.code, 1);
  assert.match(again.err, /admin user admin already exists/);
  const listed = await mailyard(["admin-user", "list", "--json", ...cliSets]);
  assert.deepEqual(
    (JSON.parse(listed.out) as { name: string }[]).map((u) => u.name),
    ["admin", "ops"],
  );

  const f1 = await cluster.start("f1", "frontend", [`smtp.forwardTo=127.0.0.1:${sink.port}`]);
  let b1 = await cluster.start("b1", "backend", ["submission.listen=127.0.0.1:0"]);
  const b2 = await cluster.start("b2", "backend");
  await cluster.waitLive([f1, b1, b2], ["f1", "b1", "b2"]);
  const base = `http://127.0.0.1:${b2.http}`;

  const browser = await startBrowser(t);
  const { context, page, errors } = await newPage(browser);
  await page.goto(`${base}/admin/`);
  await page.waitForSelector("#login");

  await t.test("a wrong password is refused, and after three the name is throttled", async () => {
    for (let i = 0; i < 3; i++)
      assert.equal(await logIn(page, "ops", "wrong"), "wrong user name or password");
    // The right password no longer helps: the name is locked (60 s) before the password is checked.
    assert.match(
      (await logIn(page, "ops", "ops-password-1")) ?? "",
      /too many failed logins: try again in \d+ s/,
    );
    const r = await fetch(`${base}/admin/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: "ops", password: "ops-password-1" }),
    });
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers.get("retry-after")) > 0);
  });

  await t.test("log in: a session cookie, HttpOnly and SameSite=Strict", async () => {
    assert.equal(await logIn(page, "admin", ADMIN_PASSWORD), null);
    assert.equal(await page.textContent(".who"), "adminLog out");
    const cookie = (await context.cookies()).find((c) => c.name === "mailyard_session");
    assert.ok(cookie !== undefined);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, "Strict");
    assert.equal(cookie.secure, false, "plain HTTP: no Secure flag");
    await page.waitForSelector("#members tr[data-member=b1]");
    assert.equal(await page.textContent("#cluster-kind"), "static");
  });

  await t.test("a state-changing request without the CSRF token is refused", async () => {
    const statuses = await page.evaluate(async () => {
      const post = (headers: Record<string, string>) =>
        fetch("/api/domains", {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify({ name: "csrf.test" }),
        }).then((r) => r.status);
      const list = (await (await fetch("/api/domains")).json()) as { domains: string[] };
      return { none: await post({}), wrong: await post({ "x-csrf-token": "forged" }), list: list.domains };
    });
    assert.deepEqual(statuses, { none: 403, wrong: 403, list: [] });
    // Without the cookie nothing is answered at all.
    assert.equal((await fetch(`${base}/api/domains`)).status, 401);
  });

  await t.test("create a domain and accounts in the Domains page", async () => {
    await page.goto(`${base}/admin/#/domains`);
    await page.fill("#add-domain input[name=domain]", "example.test");
    await page.click("#add-domain button[type=submit]");
    await page.waitForSelector("#domains .domain:has-text('example.test')");
    for (const address of ["carol@example.test", "alice@example.test"]) {
      await page.fill("#add-account input[name=address]", address);
      await page.fill("#add-account input[name=password]", "mail-password-1");
      await page.selectOption("#add-account select[name=home]", "b1");
      await page.click("#add-account button[type=submit]");
      await page.waitForSelector(`#accounts tr[data-account="${address}"]`);
    }
    // A static cluster: the "Home / owner" column shows each account's home backend.
    assert.equal(await page.textContent("#accounts th:nth-child(5)"), "Home / owner");
    assert.equal(
      await page.textContent(`#accounts tr[data-account="carol@example.test"] td:nth-child(5)`),
      "b1",
    );
    assert.equal(await cluster.state.homeOf("carol@example.test"), "b1");
    // Edit: a quota, through PATCH.
    await page.click(`#accounts tr[data-account="carol@example.test"] button:has-text('Edit')`);
    await page.fill("#account-editor input[name=quota]", "1048576");
    await page.click("#account-editor button[type=submit]");
    await page.waitForSelector(`#accounts tr[data-account="carol@example.test"] td:has-text('1.0 MB')`);
    assert.equal((await cluster.directory.getAccount("carol@example.test"))?.quotaBytes, 1048576);
    // The account's rules and Sieve script, edited on the same page; the editor names the home.
    await page.click(`#accounts tr[data-account="carol@example.test"] button:has-text('Edit')`);
    await page.waitForSelector("#account-placement:has-text('Home backend: b1')");
    await page.fill(
      "#account-sieve textarea",
      'require "fileinto";\nif header :contains "subject" "sale" { fileinto "Junk"; }\n',
    );
    await page.click("#account-sieve button.save");
    await page.waitForSelector("#account-sieve .msg:has-text('saved')");
    const sieve = await page.evaluate(() =>
      fetch("/api/sieve/carol@example.test").then((r) => r.json() as Promise<{ script: string }>),
    );
    assert.match(sieve.script, /fileinto "Junk"/);
    // An invalid script: every error listed with its line and column, and the old script stays.
    await page.fill("#account-sieve textarea", 'keep;\nredirect;\nfileinto "x";\n');
    await page.click("#account-sieve button.save");
    await page.waitForSelector("#account-sieve .msg:has-text('invalid sieve script')");
    assert.deepEqual(await page.locator("#account-sieve ul.problems li").allTextContents(), [
      "line 2, column 1: redirect: missing a string",
      `line 3, column 1: command 'fileinto' needs require "fileinto"`,
    ]);
    const kept = await page.evaluate(() =>
      fetch("/api/sieve/carol@example.test").then((r) => r.json() as Promise<{ script: string }>),
    );
    assert.equal(kept.script, sieve.script);
    // A good save clears the list.
    await page.fill("#account-sieve textarea", sieve.script);
    await page.click("#account-sieve button.save");
    await page.waitForSelector("#account-sieve .msg:has-text('saved')");
    assert.equal(await page.locator("#account-sieve ul.problems").count(), 0);
    await page.fill("#account-rules textarea", '(5,tag,(),(("Add Header","X-Tagged: yes")))');
    await page.click("#account-rules button.save");
    await page.waitForSelector("#account-rules .msg:has-text('saved')");
    const own = await page.evaluate(() =>
      fetch("/api/rules/account/carol@example.test").then((r) => r.json() as Promise<{ text: string }>),
    );
    assert.match(own.text, /X-Tagged: yes/);
    // Search narrows the list.
    await page.fill("#account-search", "alice");
    await page.waitForFunction(() => document.querySelectorAll("#accounts tr[data-account]").length === 1);
    await page.fill("#account-search", "");
    await page.waitForFunction(() => document.querySelectorAll("#accounts tr[data-account]").length === 2);
    await shot(page, "domains");
  });

  await t.test("a message for an account whose backend is down: in f1's queue, held, released", async () => {
    await b1.kill("SIGKILL");
    await waitFor("f1 sees b1 down", async () => !(await f1.health()).live.includes("b1"), 15_000);
    await swaks(f1.smtp, [
      "--from",
      "someone@remote.test",
      "--to",
      "carol@example.test",
      "--header",
      "Subject: waiting for b1",
    ]);
    await page.goto(`${base}/admin/#/queues`);
    await page.selectOption("#node", "f1");
    const row = "#queue tr[data-id]:has-text('carol@example.test')";
    await page.waitForSelector(row, { timeout: 15_000 }).catch(async (e: unknown) => {
      const shown = await page.evaluate(() => document.querySelector("main")?.textContent ?? "");
      throw new Error(`${String(e)}\nf1: ${JSON.stringify(await f1.health())}\npage: ${shown}`);
    });
    await page.click(row);
    await page.waitForSelector("#message-details pre.headers:has-text('Subject: waiting for b1')");
    await page.click("#message-actions button[name=hold]");
    await page.waitForSelector("#message-state:has-text('held')");
    // Per-recipient state and the last error: a temporary failure, since b1 is down.
    const lastError = await page.textContent("#message-details table tr:nth-child(2) td:nth-child(5)");
    assert.match(lastError ?? "", /^4\d\d /);
    assert.equal(
      await page.textContent("#message-details table tr:nth-child(2) td:nth-child(1)"),
      "carol@example.test",
    );
    await shot(page, "queues");

    b1 = await cluster.start("b1", "backend", ["submission.listen=127.0.0.1:0"], join(cluster.root, "b1"));
    await cluster.waitLive([f1], ["b1"]);
    // Held: b1 being back does not send it.
    assert.equal((await f1.health()).queue, 1);
    await page.click("#message-actions button[name=release]");
    await waitFor("f1's queue empty", async () => (await f1.health()).queue === 0, 20_000);
    const stored = await maildir(join(b1.dataDir, "mail"), "carol@example.test");
    assert.equal(stored.length, 1);
    assert.match(stored[0]!.text, /Subject: waiting for b1/);
  });

  await t.test(
    "Queue Processing: b1 Remotely with All Info; a message submitted on b1 leaves via f1",
    async () => {
      await page.goto(`${base}/admin/#/cluster`);
      await page.waitForSelector("#queue-processing tr[data-node=b1]");
      await page.selectOption(
        "#queue-processing tr[data-node=f1] select[name=submitMessages]",
        "Locally for Others",
      );
      await page.click("#queue-processing tr[data-node=f1] button.apply");
      await page.waitForSelector("#qp-msg:has-text('applied to f1')");
      await page.selectOption("#queue-processing tr[data-node=b1] select[name=submitMessages]", "Remotely");
      await page.selectOption("#queue-processing tr[data-node=b1] select[name=submitLog]", "all");
      await page.click("#queue-processing tr[data-node=b1] button.apply");
      await page.waitForSelector("#qp-msg:has-text('applied to b1')");
      const snapshot = async () =>
        page.evaluate(async () => {
          const r = (await (await fetch("/api/cluster/submit")).json()) as {
            members: { id: string; effective: string; submitLog: string }[];
          };
          return r.members.find((m) => m.id === "b1");
        });
      await waitFor("b1 Remotely", async () => (await snapshot())?.effective === "Remotely", 15_000);
      assert.equal((await snapshot())?.submitLog, "all");
      await page.waitForSelector("#queue-processing tr[data-node=b1] td:has-text('Remotely')");
      await shot(page, "cluster");
      // The stored setting is in; b1 acts on it once its own view has picked it up.
      await waitFor(
        "b1 itself Remotely, with f1 to submit to",
        async () => {
          const s = (await b1.health()).submit;
          return s?.mode === "Remotely" && s.offering.includes("f1");
        },
        15_000,
      );

      await swaks(submissionPort(b1), [
        "--tls",
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice@example.test",
        "--auth-password",
        "mail-password-1",
        "--from",
        "alice@example.test",
        "--to",
        "dave@remote.test",
        "--header",
        "Subject: submitted on b1",
      ]);
      await waitFor("delivered to smtp-sink via f1", async () =>
        (await sink.messages()).some((m) => m.includes("Subject: submitted on b1")),
      ).catch(async (e: unknown) => {
        const queues = { b1: (await b1.health()).queue, f1: (await f1.health()).queue };
        throw new Error(`${String(e)}; queues ${JSON.stringify(queues)}`);
      });
      assert.equal((await b1.health()).queue, 0, "nothing queued on b1");

      await page.goto(`${base}/admin/#/monitor`);
      await page.selectOption("#node", "b1");
      await page.check("#logs input[name=tag-SUBMIT]");
      // Only SUBMIT records once the tag filter applies; they name f1, the member that took it.
      const onlySubmit = page.waitForFunction(
        () => {
          const text = document.querySelector("#log-lines")?.textContent ?? "";
          const lines = text.split("\n").filter((l) => l !== "");
          // " 5 SUBMIT-": an All Info record, there only because Remote Submit Log is All Info now.
          return (
            lines.length > 0 &&
            lines.every((l) => / SUBMIT-\d{6}\(/.test(l)) &&
            /f1/.test(text) &&
            / 5 SUBMIT-/.test(text)
          );
        },
        undefined,
        { timeout: 15_000 },
      );
      // On a timeout, say what the viewer showed instead.
      await onlySubmit.catch(async (e: unknown) => {
        throw new Error(`${String(e)}\nlog viewer showed:\n${(await page.textContent("#log-lines")) ?? ""}`);
      });
      const lines = (await page.textContent("#log-lines")) ?? "";
      assert.match(lines, /SUBMIT-\d{6}\(.*f1/);
      await shot(page, "monitoring");
      await page.goto(`${base}/admin/#/mail`);
      await page.selectOption("#node", "f1");
      await page.waitForSelector(`#mail-settings dd:has-text('127.0.0.1:${sink.port}')`);
      // The cluster-wide rules editor: saved through the API, refused with the parser's reason.
      await page.fill("#cluster-rules textarea", '(3,mark,(),(("Add Header","X-Cluster-Rule: yes")))');
      await page.click("#cluster-rules button.save");
      await page.waitForSelector("#cluster-rules .msg:has-text('saved')");
      const rules = await page.evaluate(() =>
        fetch("/api/rules/cluster").then((r) => r.json() as Promise<{ text: string }>),
      );
      assert.match(rules.text, /X-Cluster-Rule: yes/);
      // Server-wide rules belong to the node picked above (f1), not to b2 serving the page.
      await page.waitForSelector("#server-rules h3:has-text('Server-wide rules of f1')");
      await page.waitForSelector("#server-rules textarea:not([disabled])");
      await page.fill("#server-rules textarea", '(4,f1only,(),(("Add Header","X-F1: yes")))');
      await page.click("#server-rules button.save");
      await page
        .waitForSelector("#server-rules .msg:has-text('saved')", { timeout: 15_000 })
        .catch(async (e: unknown) => {
          throw new Error(`${String(e)}: ${(await page.textContent("#server-rules")) ?? ""}`);
        });
      const perNode = await page.evaluate(() =>
        Promise.all(
          ["/api/rules/server/f1", "/api/rules/server"].map((u) =>
            fetch(u).then((r) => r.json() as Promise<{ node: string; text: string }>),
          ),
        ),
      );
      assert.equal(perNode[0]!.node, "f1");
      assert.match(perNode[0]!.text, /X-F1: yes/);
      assert.equal(perNode[1]!.node, "b2");
      assert.equal(perNode[1]!.text, "()");
      await page.fill("#server-rules textarea", "()\n(1,broken");
      await page.click("#server-rules button.save");
      await page.waitForSelector("#server-rules .msg:has-text('invalid rules')");
      assert.deepEqual(await page.locator("#server-rules ul.problems li").allTextContents(), [
        "line 2, column 1: text after the rule set",
      ]);
      // emptied again, so f1 enqueues the later tests' mail unchanged
      await page.fill("#server-rules textarea", "()");
      await page.click("#server-rules button.save");
      await page.waitForSelector("#server-rules .msg:has-text('saved')");
    },
  );

  await t.test(
    "Mail: a managed setting stored cluster-wide applies live on another member; a restart key is pending",
    async () => {
      /** The RCPT replies of one session on f1 (relaying from loopback), without sending mail. */
      const rcptCodes = async (n: number): Promise<number[]> => {
        const c = await SmtpClient.connect(f1.smtp);
        try {
          await c.expect(220);
          await c.cmd("EHLO client.test", 250);
          await c.cmd("MAIL FROM:<a@client.test>", 250);
          const codes: number[] = [];
          for (let i = 0; i < n; i++) codes.push((await c.cmd(`RCPT TO:<r${i}@remote.test>`)).code);
          await c.cmd("QUIT");
          return codes;
        } finally {
          c.close();
        }
      };
      assert.deepEqual(await rcptCodes(3), [250, 250, 250]);
      await page.goto(`${base}/admin/#/mail`);
      await page.selectOption("#node", "f1");
      const row = "#managed-settings tr[data-key='smtp.maxRecipients']";
      await page.waitForSelector(`${row} td.source:has-text('config file')`);
      await page.click(`${row} button.edit`);
      await page.fill("#managed-edit input[name=text]", "2");
      await page.selectOption("#managed-edit select[name=scope]", "cluster");
      await page.click("#managed-edit button[type=submit]");
      await page.waitForSelector("#managed-msg:has-text('applied live')");
      // b2 serves the page and wrote the state; f1, another process, follows it without a restart.
      await waitFor("f1 refuses a third recipient", async () => (await rcptCodes(3))[2] === 452, 15_000);
      await page.waitForSelector(`${row} td.source:has-text('cluster-wide')`);
      assert.equal(await page.textContent(`${row} td.value`), "2");

      // A key that applies at restart, for f1 only: stored, shown as pending.
      const receipt = "#managed-settings tr[data-key='local.deliverOnReceipt']";
      await page.click(`${receipt} button.edit`);
      await page.fill("#managed-edit input[name=text]", "false");
      await page.selectOption("#managed-edit select[name=scope]", "node");
      await page.click("#managed-edit button[type=submit]");
      await page.waitForSelector("#managed-msg:has-text('applies when the node restarts')");
      await page.waitForSelector(`${receipt} td.value:has-text('pending restart')`);
      // A value the node cannot take is refused with the reason.
      await page.click(`${row} button.edit`);
      await page.fill("#managed-edit input[name=text]", "many");
      await page.click("#managed-edit button[type=submit]");
      await page.waitForSelector("#managed-msg:has-text('expected a number')");
      await shot(page, "mail");

      // Removed again: f1 back on its config.
      await page.click(`${row} button.unset-cluster`);
      await page.click(`${receipt} button.unset-node`);
      await waitFor("f1 takes three recipients again", async () => (await rcptCodes(3))[2] === 250, 15_000);
      await page.waitForSelector(`${receipt} td.value:not(:has-text('pending'))`);
    },
  );

  await t.test("log out ends the session", async () => {
    const before = (await context.cookies()).find((c) => c.name === "mailyard_session")!.value;
    await page.click("#logout");
    await page.waitForSelector("#login");
    const r = await fetch(`${base}/admin/session`, { headers: { cookie: `mailyard_session=${before}` } });
    assert.equal(r.status, 401);
    assert.deepEqual(
      // 400: the invalid rule set and Sieve script refused on purpose above.
      errors.filter((e) => !/status of (400|401|403|404|429)/.test(e)),
      [],
    );
  });
});

// The Mail page's filtering and signing panels in a real headless Chromium (Debian's chromium,
// playwright-core) against real processes: frontend f1 (whose WebAdmin the browser uses) with a
// scriptable milter in smtp.milters, and backend b1, sharing one state file. A message through
// f1 passes the milter; the page lists that milter with its options resolved and its counters,
// shows the inbound authentication settings (managed, in the managed table too), generates a
// DKIM key whose TXT record it shows (the same key `mailyard dkim list` sees and the shared
// state holds, the page never holding the private key), and removes it.
// WEBADMIN_SCREENSHOTS=DIR saves the page with the new key as DIR/mail-filters.png.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { dnsRecord } from "../../src/delivery/dkim/keys.js";
import { openSqliteDkimStore } from "../../src/delivery/dkim/sqlite-store.js";
import { mailyard } from "../cli/run-cli.js";
import { startProcCluster } from "../cluster/processes-kit.js";
import { newPage, startBrowser } from "../kit/browser.js";
import { startFakeMilter } from "../kit/fake-milter.js";
import { waitFor } from "../kit/load.js";

const run = promisify(execFile);
const ADMIN_PASSWORD = "correct horse battery";

test(
  "WebAdmin Mail page: milters with counters, authentication settings, DKIM keys",
  { timeout: 180_000 },
  async (t) => {
    const milter = await startFakeMilter();
    t.after(() => milter.stop());
    const eoms = () => milter.connections.flat().filter((c) => c.cmd === "E").length;
    // Dynamic: an account needs no home backend, b1 takes its lease when the message arrives.
    const cluster = await startProcCluster(t, ["cluster.kind=dynamic"]);
    const statePath = join(cluster.root, "state.db");
    const cliSets = ["--set", `state.url=${statePath}`, "--set", `dataDir=${join(cluster.root, "cli")}`];
    const added = await mailyard(["admin-user", "add", "admin", "--password", ADMIN_PASSWORD, ...cliSets]);
    assert.equal(added.code, 0, added.err);
    await cluster.directory.addDomain("example.test");
    await cluster.directory.addAccount("bob@example.test", "pw-1");

    const entry = `inet:127.0.0.1:${milter.port} events=mail+rcpt+header+body commandTimeout=20`;
    await cluster.start("b1", "backend");
    const f1 = await cluster.start("f1", "frontend", [`smtp.milters=${entry}`, "smtp.dmarcPolicy=mark"]);
    await cluster.waitLive([f1], ["b1", "f1"]);

    const sent = await run(
      "swaks",
      [
        ...["--server", `127.0.0.1:${f1.smtp}`, "--timeout", "20"],
        ...["--from", "someone@remote.test", "--to", "bob@example.test", "--header", "Subject: filtered"],
      ],
      { timeout: 30_000 },
    ).catch((e: { stdout?: string }) => ({ stdout: `failed: ${e.stdout ?? ""}` }));
    assert.doesNotMatch(sent.stdout, /^failed/, sent.stdout);
    await waitFor("the milter saw the message", () => Promise.resolve(eoms() === 1), 15_000);

    const browser = await startBrowser(t);
    const { page, errors } = await newPage(browser);
    const base = `http://127.0.0.1:${f1.http}`;
    await page.goto(`${base}/admin/`);
    await page.fill("#login input[name=user]", "admin");
    await page.fill("#login input[name=password]", ADMIN_PASSWORD);
    await page.click("#login button[type=submit]");
    await page.waitForSelector("#logout");
    await page.goto(`${base}/admin/#/mail`);

    await t.test("the configured milter, its options resolved, its counters", async () => {
      const row = `#milters tr[data-milter="inet:127.0.0.1:${milter.port}"]`;
      await page.waitForSelector(row);
      const cells = (await page.locator(`${row} td`).allTextContents()).map((c) => c.trim());
      assert.deepEqual(cells.slice(0, 4), [
        `inet:127.0.0.1:${milter.port}`,
        "connect, mail, rcpt, header, body, eom",
        "tempfail",
        "30 s / 20 s / 300 s",
      ]);
      // Every step the milter answered "continue" to, counted by the node that called it.
      assert.match(cells[4] ?? "", /^continue \d+$/);
      assert.ok(Number(/\d+/.exec(cells[4] ?? "")?.[0]) >= 4, cells[4]);
      assert.equal(cells[5], "—");
    });

    await t.test("the authentication settings: in the managed table and their own panel", async () => {
      await page.waitForSelector("#mail-auth");
      for (const key of ["smtp.authChecks", "smtp.dmarcPolicy", "smtp.spfFail"])
        await page.waitForSelector(`#managed-settings tr[data-key="${key}"]`);
      assert.equal(
        (await page.textContent('#managed-settings tr[data-key="smtp.dmarcPolicy"] td.value'))?.trim(),
        "mark",
      );
      const text = (await page.textContent("#mail-auth dl")) ?? "";
      assert.match(text, /checks \(smtp\.authChecks\)on/);
      assert.match(text, /DMARC policy \(smtp\.dmarcPolicy\)mark/);
      assert.match(text, /SPF fail \(smtp\.spfFail\)mark/);
    });

    await t.test("a DKIM key generated from the page, its TXT record shown, then removed", async () => {
      await page.waitForSelector("#dkim-none");
      await page.fill("#dkim-keygen input[name=domain]", "example.test");
      await page.fill("#dkim-keygen input[name=selector]", "web1");
      await page.click("#dkim-keygen button[type=submit]");
      await page.waitForSelector("#dkim-new code.record");
      assert.equal(await page.textContent("#dkim-new .dns-name"), "web1._domainkey.example.test");
      const record = (await page.textContent("#dkim-new code.record")) ?? "";
      assert.match(record, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$/);

      // The key is in the shared state, where every frontend signs from, and the record is its own.
      const store = openSqliteDkimStore(statePath);
      try {
        const keys = await store.keysOf("example.test");
        assert.deepEqual(
          keys.map((k) => [k.selector, k.algorithm, dnsRecord(k)]),
          [["web1", "rsa", record]],
        );
        const html = await page.content();
        assert.ok(!html.includes("PRIVATE KEY"));
        assert.ok(!html.includes(keys[0]!.privateKey.split("\n")[1]!), "no private key in the page");
      } finally {
        await store.close();
      }
      const listed = await mailyard(["dkim", "list", "--json", ...cliSets]);
      assert.equal(listed.code, 0, listed.err);
      assert.deepEqual(
        (JSON.parse(listed.out) as { domain: string; selector: string }[]).map(
          (k) => `${k.domain} ${k.selector}`,
        ),
        ["example.test web1"],
      );

      const row = '#dkim-keys tr[data-key="example.test/web1"]';
      await page.waitForSelector(row);
      const shots = process.env["WEBADMIN_SCREENSHOTS"];
      if (shots !== undefined && shots !== "") {
        await mkdir(shots, { recursive: true });
        await page.screenshot({ path: join(shots, "mail-filters.png"), fullPage: true });
      }
      assert.equal(await page.textContent(`${row} code.record`), record);
      page.once("dialog", (d) => void d.accept());
      await page.click(`${row} button.remove`);
      await page.waitForSelector("#dkim-none");
      assert.equal(await page.textContent("#dkim-msg"), "removed web1 of example.test");
      const after = await mailyard(["dkim", "list", "--json", ...cliSets]);
      assert.deepEqual(JSON.parse(after.out), []);
    });

    // The page's session check before the login answers 401, and a rule set never stored 404.
    assert.deepEqual(
      errors.filter((e) => !/status of (401|404)/.test(e)),
      [],
    );
  },
);

// The account pages of a dynamic cluster in a real headless Chromium: frontend f1 (whose
// WebAdmin the browser uses) and backend b1 as processes sharing one state file, leases of 2 s.
// An account nobody has opened shows "no owner (free)"; once a message for it has reached b1
// (swaks → f1 → delivery channel → b1, which takes the account's lease) it shows b1 as the
// owner with the lease's expiry, in the list and in the editor; after b1 is killed its lease
// runs out and the editor, which re-reads the owner, shows the account free again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { join } from "node:path";
import { mailyard } from "../cli/run-cli.js";
import { startProcCluster } from "../cluster/processes-kit.js";
import { newPage, startBrowser } from "../kit/browser.js";
import { waitFor } from "../kit/load.js";

const run = promisify(execFile);
const ADMIN_PASSWORD = "correct horse battery";
const row = (address: string) => `#accounts tr[data-account="${address}"]`;

test(
  "WebAdmin account pages in a dynamic cluster: owner, lease expiry, free",
  { timeout: 180_000 },
  async (t) => {
    const cluster = await startProcCluster(t, ["cluster.kind=dynamic", "cluster.leaseSeconds=2"]);
    const cliSets = [
      "--set",
      `state.url=${join(cluster.root, "state.db")}`,
      "--set",
      `dataDir=${join(cluster.root, "cli")}`,
    ];
    const added = await mailyard(["admin-user", "add", "admin", "--password", ADMIN_PASSWORD, ...cliSets]);
    assert.equal(added.code, 0, added.err);
    await cluster.directory.addDomain("example.test");
    for (const a of ["dyn@example.test", "idle@example.test"]) await cluster.directory.addAccount(a, "pw-1");

    const b1 = await cluster.start("b1", "backend");
    const f1 = await cluster.start("f1", "frontend");
    await cluster.waitLive([f1], ["b1", "f1"]);
    const base = `http://127.0.0.1:${f1.http}`;

    const browser = await startBrowser(t);
    const { page, errors } = await newPage(browser);
    await page.goto(`${base}/admin/`);
    await page.fill("#login input[name=user]", "admin");
    await page.fill("#login input[name=password]", ADMIN_PASSWORD);
    await page.click("#login button[type=submit]");
    await page.waitForSelector("#logout");

    await page.goto(`${base}/admin/#/domains`);
    await page.waitForSelector(row("dyn@example.test"));
    assert.equal(await page.textContent("#accounts th:nth-child(5)"), "Home / owner");
    assert.equal(await page.textContent(`${row("dyn@example.test")} td:nth-child(5)`), "no owner (free)");

    // A message for dyn@ makes b1 open the account: it takes the lease.
    await run(
      "swaks",
      [
        "--server",
        `127.0.0.1:${f1.smtp}`,
        "--timeout",
        "20",
        "--from",
        "someone@remote.test",
        "--to",
        "dyn@example.test",
        "--header",
        "Subject: open the account",
      ],
      { timeout: 30_000 },
    );
    await waitFor(
      "b1 holds dyn@'s lease",
      async () => (await cluster.state.leaseOf("dyn@example.test", Date.now()))?.owner === "b1",
      15_000,
    );
    // Reloaded by searching: the list shows the owner and when its lease runs out.
    await page.fill("#account-search", "example.test");
    await page.waitForSelector(`${row("dyn@example.test")} td:nth-child(5):has-text('owner: b1')`);
    assert.match(
      (await page.textContent(`${row("dyn@example.test")} td:nth-child(5)`)) ?? "",
      /^owner: b1 \(lease until \d\d:\d\d:\d\d\)$/,
    );
    assert.equal(await page.textContent(`${row("idle@example.test")} td:nth-child(5)`), "no owner (free)");

    await page.click(`${row("dyn@example.test")} button:has-text('Edit')`);
    await page.waitForSelector("#account-placement:has-text('owner: b1')");
    assert.match(
      (await page.textContent("#account-placement")) ?? "",
      /owner: b1 \(lease until \d\d:\d\d:\d\d\)/,
    );

    // b1 dies without giving the lease back: once it has expired, the account is free.
    await b1.kill("SIGKILL");
    await page.waitForSelector("#account-placement:has-text('no owner (free)')", { timeout: 20_000 });
    assert.equal(await cluster.state.leaseOf("dyn@example.test", Date.now()), null);
    assert.deepEqual(
      errors.filter((e) => !/status of (401|404)/.test(e)),
      [],
    );
  },
);

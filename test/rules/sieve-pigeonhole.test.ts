// Differential test against Dovecot Pigeonhole: every script of test/rules/corpus/scripts run
// over every message of test/rules/corpus/messages by Pigeonhole's sieve-test (Debian
// dovecot-sieve, installed by scripts/test-peers.sh) and by Mailyard's interpreter must give the
// same actions: folders stored into (with their IMAP flags), redirects, rejects, discards,
// vacation replies (period, handle and text), and the implicit keep.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { compileSieve, runSieve, vacationVerdict, type SieveAction } from "../../src/rules/sieve/index.js";
import { messageView } from "../../src/rules/message.js";
import { bodyParts } from "../../src/rules/body.js";

const run = promisify(execFile);
const CORPUS = join(import.meta.dirname, "..", "..", "..", "test", "rules", "corpus");
const SIEVE_TEST = "/usr/bin/sieve-test";
const SENDER = "sender@remote.test";
const RECIPIENT = "me@example.test";

interface Outcome {
  performed: string[];
  implicit: string[];
  /** For scripts with vacation: whether the reply is sent when the result is carried out. */
  vacation?: string;
}

function flagsText(flags: readonly string[]): string {
  return flags.length === 0
    ? ""
    : " flags=" +
        flags
          .map((f) => f.toLowerCase())
          .sort()
          .join(" ");
}

function ours(a: SieveAction): string {
  switch (a.kind) {
    case "keep":
      return `store INBOX${flagsText(a.flags)}`;
    case "fileinto":
      return `store ${a.folder}${flagsText(a.flags)}`;
    case "redirect":
      return `redirect ${a.to}`;
    case "reject":
      // sieve-test shows each control character of the reason as '?'
      return `reject ${a.text.replace(/[\r\n]/g, "?")}`;
    case "discard":
      return "discard";
    case "vacation":
      return `vacation seconds=${a.seconds} handle=${a.handle} text=${a.reason.trim().replace(/\r\n/g, "\n")}`;
  }
}

/** Reads sieve-test's report: "Performed actions:" and "Implicit keep:" lists. */
function theirs(stdout: string): Outcome {
  const out: Outcome = { performed: [], implicit: [] };
  let section: string[] | null = null;
  const lines = stdout.replace(/\r/g, "").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.startsWith("Performed actions:")) section = out.performed;
    else if (l.startsWith("Implicit keep:")) section = out.implicit;
    if (!section) continue;
    let m: RegExpExecArray | null;
    if ((m = /^ \* store message in folder: (.*)$/.exec(l))) section.push(`store ${m[1]}`);
    else if ((m = /^\s+\+ add IMAP flags: (.*)$/.exec(l))) {
      const flags = m[1]!.trim().split(/\s+/);
      section[section.length - 1] += flagsText(flags);
    } else if ((m = /^ \* redirect message to: <(.*)>$/.exec(l))) section.push(`redirect ${m[1]}`);
    else if ((m = /^ \* reject message with reason: (.*)$/.exec(l))) section.push(`reject ${m[1]}`);
    else if (/^ \* discard$/.test(l)) section.push("discard");
    else if (/^ \* send vacation message:/.test(l)) {
      let seconds = "";
      let handle = "";
      let k = i + 1;
      for (; k < lines.length && !lines[k]!.startsWith("START MESSAGE"); k++) {
        const f = /^\s+=> (\w+)\s*: (.*)$/.exec(lines[k]!);
        if (f?.[1] === "seconds") seconds = f[2]!;
        if (f?.[1] === "handle") handle = f[2]!;
      }
      const end = lines.indexOf("END MESSAGE", k);
      const text = lines
        .slice(k + 1, end)
        .join("\n")
        .trim();
      section.push(`vacation seconds=${seconds} handle=${handle} text=${text}`);
      i = end;
    } else if (/^ \* /.test(l)) section.push(`unparsed: ${l}`);
  }
  return out;
}

test("Mailyard's Sieve interpreter takes the same actions as Pigeonhole's sieve-test on the corpus", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-sieve-"));
  try {
    await chmod(dir, 0o777);
    await mkdir(join(dir, "mail"), { mode: 0o777 });
    await mkdir(join(dir, "run"), { mode: 0o777 });
    await chmod(join(dir, "mail"), 0o777);
    await chmod(join(dir, "run"), 0o777);
    const conf = join(dir, "dovecot.conf");
    // sieve-test refuses to run as root: the mail user is nobody, the tree is open to it.
    await writeFile(
      conf,
      [
        "mail_uid = 65534",
        "mail_gid = 65534",
        "first_valid_uid = 0",
        "first_valid_gid = 0",
        `base_dir = ${join(dir, "run")}`,
        `mail_location = maildir:${join(dir, "mail")}`,
        "ssl = no",
        "lda_mailbox_autocreate = yes",
        "plugin {",
        "  sieve_extensions = +editheader",
        "}",
        "",
      ].join("\n"),
    );
    const scripts = (await readdir(join(CORPUS, "scripts"))).filter((f) => f.endsWith(".sieve")).sort();
    const messages = (await readdir(join(CORPUS, "messages"))).filter((f) => f.endsWith(".eml")).sort();
    assert.ok(scripts.length >= 25 && messages.length >= 6, "the corpus is there");
    for (const f of [
      ...scripts.map((s) => join("scripts", s)),
      ...messages.map((m) => join("messages", m)),
    ]) {
      const to = join(dir, f.replace("/", "-"));
      await copyFile(join(CORPUS, f), to);
      await chmod(to, 0o666);
    }

    const expected: Record<string, Outcome> = {};
    const actual: Record<string, Outcome> = {};
    const jobs: (() => Promise<void>)[] = [];
    for (const s of scripts) {
      const src = await readFile(join(CORPUS, "scripts", s), "utf8");
      const compiled = compileSieve(src);
      assert.ok(compiled.ok, `${s}: ${compiled.ok ? "" : compiled.errors.map((e) => e.message).join("; ")}`);
      for (const m of messages) {
        const key = `${s} × ${m}`;
        const raw = await readFile(join(CORPUS, "messages", m));
        const view = messageView(raw, {
          envelopeFrom: SENDER,
          recipients: [RECIPIENT],
          recipient: RECIPIENT,
          source: "smtp",
          submitAddress: "192.0.2.1",
          authenticated: false,
          now: Date.now(),
          zoneOffset: 0,
        });
        const body = compiled.script.requires.has("body") ? await bodyParts(raw) : undefined;
        const r = await runSieve(compiled.script, view, body === undefined ? {} : { body });
        assert.equal(r.error, null, `${key}: ${r.error ?? ""}`);
        const vac = r.actions.find((a) => a.kind === "vacation");
        actual[key] = {
          performed: r.actions.filter((a) => !(a.kind === "keep" && a.implicit)).map(ours),
          implicit: r.actions.filter((a) => a.kind === "keep" && a.implicit).map(ours),
          ...(vac?.kind === "vacation"
            ? { vacation: vacationVerdict(vac, view, false).send ? "sent" : "discarded" }
            : {}),
        };
        const args = [
          "-c",
          conf,
          "-f",
          SENDER,
          "-r",
          RECIPIENT,
          join(dir, `scripts-${s}`),
          join(dir, `messages-${m}`),
        ];
        const env = { ...process.env, HOME: dir, TZ: "UTC" };
        jobs.push(async () => {
          const { stdout } = await run(SIEVE_TEST, args, { env, timeout: 20_000 });
          const o = theirs(stdout);
          if (o.performed.some((p) => p.startsWith("vacation "))) {
            // -e carries the result out: Pigeonhole's vacation checks run only then. It stores
            // too, into folders that must exist.
            for (const p of o.performed) {
              const f = /^store (\S+)/.exec(p)?.[1];
              if (!f || f === "INBOX") continue;
              for (const sub of ["cur", "new", "tmp"]) {
                await mkdir(join(dir, "mail", `.${f}`, sub), { recursive: true, mode: 0o777 });
                await chmod(join(dir, "mail", `.${f}`, sub), 0o777);
              }
              await chmod(join(dir, "mail", `.${f}`), 0o777);
            }
            const ex = await run(SIEVE_TEST, ["-e", ...args], { env, timeout: 20_000 });
            const log = ex.stdout + ex.stderr;
            o.vacation = /vacation action: sent vacation response/.test(log)
              ? "sent"
              : /vacation action: discard/.test(log)
                ? "discarded"
                : "unknown";
          }
          expected[key] = o;
        });
      }
    }
    // two sieve-test processes at a time: the machine is shared
    const queue = [...jobs];
    await Promise.all(
      [0, 1].map(async () => {
        for (let job = queue.shift(); job; job = queue.shift()) await job();
      }),
    );
    const mismatches = Object.keys(actual).filter(
      (k) => JSON.stringify(actual[k]) !== JSON.stringify(expected[k]),
    );
    assert.deepEqual(
      Object.fromEntries(mismatches.map((k) => [k, actual[k]])),
      Object.fromEntries(mismatches.map((k) => [k, expected[k]])),
      `${mismatches.length} of ${Object.keys(actual).length} runs differ`,
    );
    // the corpus exercises every kind of action on both sides
    const all = Object.values(expected)
      .flatMap((o) => [...o.performed, ...o.implicit])
      .join("\n");
    for (const kind of [
      "store INBOX",
      "store Sales",
      "redirect ",
      "reject ",
      "discard",
      "vacation ",
      "flags=",
    ]) {
      assert.ok(all.includes(kind), `corpus produces '${kind}'`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

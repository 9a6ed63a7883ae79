// The reply catalogue keeps itself honest: every entry's enhanced code has the class of its
// code (RFC 3463 §2), no reply is there twice, each entry is used by the code, and
// docs/REPLIES.md lists exactly the table (regenerate it with MAILYARD_WRITE_DOCS=1).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { REPLIES, form, formatReply, type Reply, type ReplyTemplate } from "./reply.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const DOC = join(ROOT, "docs", "REPLIES.md");

interface Entry {
  readonly name: string;
  readonly code: number;
  readonly enhanced: string | null;
  /** The text, or the template with its `{slot}`s. */
  readonly text: string;
  readonly form: boolean;
}

const entries: readonly Entry[] = Object.entries(REPLIES as Record<string, Reply | ReplyTemplate>).map(
  ([name, r]) =>
    "template" in r
      ? { name, code: r.code, enhanced: r.enhanced, text: r.template, form: true }
      : { name, code: r.code, enhanced: r.enhanced, text: r.text, form: false },
);

void test("every reply's enhanced code has the class of its code (RFC 3463 §2)", () => {
  for (const e of entries) {
    assert.ok(Number.isInteger(e.code) && e.code >= 200 && e.code <= 599, `${e.name}: code ${e.code}`);
    const cls = Math.floor(e.code / 100);
    if (e.enhanced === null) {
      // Greetings, hellos and intermediate replies carry none (RFC 2034 §3).
      assert.ok(cls === 2 || cls === 3, `${e.name}: a ${e.code} needs an enhanced code`);
      continue;
    }
    assert.notEqual(cls, 3, `${e.name}: 3xx replies have no enhanced code`);
    assert.match(e.enhanced, /^[245]\.\d{1,3}\.\d{1,3}$/, `${e.name}: enhanced code syntax`);
    assert.equal(e.enhanced.split(".")[0], String(cls), `${e.name}: ${e.code} with ${e.enhanced}`);
  }
});

void test("no reply is in the table twice (same code, enhanced code and text)", () => {
  const seen = new Map<string, string>();
  for (const e of entries) {
    const key = `${e.code} ${e.enhanced ?? "-"} ${e.text}`;
    assert.equal(seen.get(key), undefined, `${e.name} repeats ${seen.get(key) ?? ""}`);
    seen.set(key, e.name);
  }
});

void test("every text is one line per reply line, and every form fills all its slots", () => {
  for (const e of entries) {
    assert.doesNotMatch(e.text, /\r|\n\n|^\n|\n$/, `${e.name}: line breaks`);
    assert.ok(!e.text.includes("|"), `${e.name}: "|" would break the docs table`);
    const r = REPLIES[e.name as keyof typeof REPLIES];
    if (typeof r !== "function") continue;
    const slots = [...e.text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
    assert.ok(slots.length > 0, `${e.name}: a form without slots should be a fixed reply`);
    const made = (r as unknown as (v: Record<string, string>) => Reply)(
      Object.fromEntries(slots.map((s) => [s, "X"])),
    );
    assert.doesNotMatch(made.text, /[{}]/, `${e.name}: unfilled slot`);
    assert.deepEqual([made.code, made.enhanced], [e.code, e.enhanced]);
  }
});

void test("a form fills each slot once: a value holding a slot name stays as it is", () => {
  const f = form(451, "4.4.2", "lost connection with {relay} ({why})");
  assert.deepEqual(f({ relay: "{why}", why: "$& timeout" }), {
    code: 451,
    enhanced: "4.4.2",
    text: "lost connection with {why} ($& timeout)",
  });
  const ehlo = REPLIES.ehloOk({ host: "mx", name: "c", extensions: "SIZE 10\nDSN" });
  assert.equal(formatReply(ehlo), "250-mx Hello c\r\n250-SIZE 10\r\n250 DSN\r\n");
});

async function sources(dir: string, out: string[] = []): Promise<string[]> {
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) await sources(p, out);
    else if (d.name.endsWith(".ts") && !d.name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

async function codeOutsideTable(): Promise<ReadonlyMap<string, string>> {
  const own = join(ROOT, "src", "proto", "reply.ts");
  const files = (await sources(join(ROOT, "src"))).filter((f) => f !== own);
  return new Map(
    await Promise.all(files.map(async (f) => [f.slice(ROOT.length), await readFile(f, "utf8")] as const)),
  );
}

void test("every entry of the table is used by the code", async () => {
  const code = [...(await codeOutsideTable()).values()].join("\n");
  const unused = entries.map((e) => e.name).filter((n) => !new RegExp(`\\bREPLIES\\.${n}\\b`).test(code));
  assert.deepEqual(unused, [], "entries no code uses");
});

void test("no reply with a fixed code is made outside the table", async () => {
  // reply(451, ...) or { code: 451, ... } with the code written out: it belongs in REPLIES.
  const literal = /\breply\(\s*[245]\d\d\b|\bcode:\s*[245]\d\d\b/g;
  const found = [...(await codeOutsideTable())].flatMap(([file, text]) =>
    [...text.matchAll(literal)].map((m) => `${file}: ${m[0]}`),
  );
  assert.deepEqual(found, []);
});

/** docs/REPLIES.md as the table says it must read. */
function repliesDoc(): string {
  const cell = (text: string): string =>
    text
      .split("\n")
      .map((l) => `\`${l}\``)
      .join("<br>");
  const rows = [...entries]
    .sort(
      (a, b) =>
        a.code - b.code || (a.enhanced ?? "").localeCompare(b.enhanced ?? "") || a.name.localeCompare(b.name),
    )
    .map((e) => `| ${e.code} | ${e.enhanced ?? ""} | ${cell(e.text)} | \`${e.name}\` |`);
  return [
    "# SMTP and LMTP replies",
    "",
    "Every reply Mailyard makes with a fixed code, from the table in `src/proto/reply.ts`.",
    "`{slot}` stands for what is filled in when the reply is made (an address, a host, a reason).",
    "Replies a next hop sent are passed on as they came and are not listed.",
    "This file is generated: `MAILYARD_WRITE_DOCS=1 node scripts/run-tests.mjs proto/reply.test`",
    "rewrites it, and `src/proto/reply.test.ts` fails while it differs from the table.",
    "",
    "| code | enhanced | text | name |",
    "| --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
}

void test("docs/REPLIES.md lists exactly the table", async () => {
  const want = repliesDoc();
  if (process.env["MAILYARD_WRITE_DOCS"] === "1") await writeFile(DOC, want);
  const doc = await readFile(DOC, "utf8").catch(() => "");
  assert.equal(doc, want, "docs/REPLIES.md is out of date: regenerate it (see its head)");
});

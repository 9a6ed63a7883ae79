// Account-level rules at delivery (the seed: the backend that opens the account applies its
// rules when it stores the message): the domain's and the account's seed-style rules (one set,
// by priority), then the account's Sieve script, turned into what the mailbox channel does —
// the folders to store into (with flags), a permanent reject, and messages to submit (redirect,
// forward, mirror, replies, vacation). Loop protection lives here: replies only to human mail
// and once per sender per period (the reply memory), redirects only to a bounded depth. A rule
// set or script that cannot be read, parsed or run is logged (tag RULES) and skipped: the
// message then goes to INBOX. Nothing here writes mailboxes or queues; the caller does.
import { createHash } from "node:crypto";
import { domainToASCII } from "node:url";
import { rfc5322Date } from "../proto/date.js";
import type { Log } from "../log/logger.js";
import { parseAddressList } from "./addresses.js";
import { bodyParts } from "./body.js";
import { isHumanGenerated } from "./human.js";
import {
  decodeWords,
  encodeFieldText,
  fieldValues,
  headerBytes,
  sameName,
  tagSubject,
  type HeaderField,
  type MessageView,
} from "./message.js";
import { composeAutoReply } from "./reply-message.js";
import { evaluateRules, keepsInbox } from "./seed/evaluate.js";
import type { RuleAction } from "./seed/model.js";
import { compileSieve, runSieve, vacationVerdict, type SieveAction } from "./sieve/index.js";
import type { Pause } from "./sieve/meter.js";
import type { RuleStore } from "./store.js";

/** A redirected message that already passed through this many rule redirects is not sent on. */
export const MAX_REDIRECT_DEPTH = 5;
export const REDIRECT_TRACE = "X-Mailyard-Redirected-By";
const REPLY_PERIOD_MS = 86_400_000;

export interface Generated {
  readonly kind: "redirect" | "forward" | "mirror" | "reply" | "vacation";
  /** Reverse path; "" for auto-replies (RFC 3834 §3.3). */
  readonly returnPath: string;
  readonly to: readonly string[];
  readonly message: Buffer;
}

export interface AccountDecision {
  /** Copies to store: folder null is INBOX; flags are Maildir info letters. */
  readonly stores: readonly { readonly folder: string | null; readonly flags: string }[];
  /** A permanent refusal with this text (the recipient bounces). */
  readonly reject: string | null;
  readonly generated: readonly Generated[];
  /** The message as rules left it (edited header), or null when unchanged. */
  readonly message: Buffer | null;
}

export const INBOX_ONLY: AccountDecision = {
  stores: [{ folder: null, flags: "" }],
  reject: null,
  generated: [],
  message: null,
};

const FLAG_LETTERS: Readonly<Record<string, string>> = {
  "\\seen": "S",
  "\\answered": "R",
  "\\flagged": "F",
  "\\deleted": "T",
  "\\draft": "D",
};

function letters(flags: readonly string[]): string {
  let set = new Set<string>();
  for (const f of flags) {
    const neg = f.startsWith("-");
    const l = FLAG_LETTERS[(neg ? f.slice(1) : f).toLowerCase()];
    if (!l) continue; // keywords need Dovecot's keyword file: not kept
    if (neg) set = new Set([...set].filter((x) => x !== l));
    else set.add(l);
  }
  return [...set].sort().join("");
}

/** True when the account has any rules or script (otherwise delivery needs no rules pass). */
export async function hasAccountRules(store: RuleStore, account: string, domain: string): Promise<boolean> {
  const [d, a, s] = await Promise.all([
    store.getRules({ kind: "domain", name: domain }),
    store.getRules({ kind: "account", address: account }),
    store.getSieve(account),
  ]);
  return d.length > 0 || a.length > 0 || s !== null;
}

export async function decideForAccount(
  store: RuleStore,
  log: Log,
  account: string,
  domain: string,
  view: MessageView,
  /** How the Sieve run yields to the event loop (sieve/meter.ts); setImmediate when absent. */
  pause?: Pause,
): Promise<AccountDecision> {
  let seed: RuleAction[] = [];
  let sieve: readonly SieveAction[] | null = null;
  let sieveHeaders: readonly HeaderField[] | null = null;
  try {
    const rules = [
      ...(await store.getRules({ kind: "domain", name: domain })),
      ...(await store.getRules({ kind: "account", address: account })),
    ];
    const ev = evaluateRules(rules, view);
    for (const e of ev.errors) log.problem("rule skipped", { to: account, rule: e.rule, error: e.message });
    seed = ev.actions;
  } catch (e) {
    log.problem("rules unreadable, storing in INBOX", { to: account, error: String(e) });
  }
  try {
    const script = await store.getSieve(account);
    if (script !== null) {
      const c = compileSieve(script);
      if (!c.ok) log.problem("sieve script invalid, skipped", { to: account, error: c.errors[0]!.message });
      else {
        // the body extension's test reads the decoded parts, which take a walk of their own
        const body = c.script.requires.has("body") ? await bodyParts(view.raw) : undefined;
        const r = await runSieve(c.script, view, { ...(body ? { body } : {}), ...(pause ? { pause } : {}) });
        if (r.limited) log.problem("sieve work limit, implicit keep", { to: account, error: r.error });
        else if (r.error !== null)
          log.problem("sieve run failed, implicit keep", { to: account, error: r.error });
        sieve = r.actions;
        sieveHeaders = r.headers;
      }
    }
  } catch (e) {
    log.problem("sieve script unreadable, skipped", { to: account, error: String(e) });
  }

  const stores: { folder: string | null; flags: string }[] = [];
  const generated: Generated[] = [];
  let reject: string | null = null;
  const addStore = (folder: string | null, flags: string): void => {
    const f = folder !== null && folder.toUpperCase() === "INBOX" ? null : folder;
    if (!stores.some((s) => s.folder === f)) stores.push({ folder: f, flags });
  };
  const depth = fieldValues(view, REDIRECT_TRACE).length;
  const canRedirect = (to: readonly string[]): boolean => {
    if (depth < MAX_REDIRECT_DEPTH) return true;
    log.problem("redirect depth limit, not sent", { to: account, targets: to.join(","), depth });
    return false;
  };
  const human = view.envelopeFrom !== "" && isHumanGenerated(view);

  // header edits: Add Header / Tag Subject, then Sieve's editheader result
  let headers: HeaderField[] = [...(sieveHeaders ?? view.headers)];
  let edited = sieveHeaders !== null;
  const seedFlags = letters(
    seed.filter((a) => a.kind === "mark").flatMap((a) => (a.kind === "mark" ? a.flags : [])),
  );
  for (const a of seed) {
    if (a.kind === "addHeader") {
      headers = [{ name: a.name, value: encodeFieldText(a.value) }, ...headers];
      edited = true;
    } else if (a.kind === "tagSubject") {
      const i = headers.findIndex((h) => sameName(h.name, "Subject"));
      if (i < 0) headers.push({ name: "Subject", value: encodeFieldText(a.tag) });
      else if (!decodeWords(headers[i]!.value).includes(a.tag))
        headers[i] = { name: headers[i]!.name, value: tagSubject(a.tag, headers[i]!.value) };
      edited = true;
    }
  }
  const body = view.raw.subarray(view.bodyOffset);
  const message = edited ? Buffer.concat([headerBytes(headers), body]) : view.raw;
  const traced = (m: Buffer): Buffer => Buffer.concat([Buffer.from(`${REDIRECT_TRACE}: ${account}\r\n`), m]);

  for (const a of seed) {
    switch (a.kind) {
      case "store":
        addStore(a.folder, seedFlags);
        break;
      case "reject":
        reject ??= a.text;
        break;
      case "redirect":
      case "mirror":
        if (canRedirect(a.to))
          generated.push({ kind: a.kind, returnPath: view.envelopeFrom, to: a.to, message: traced(message) });
        break;
      case "forward":
        if (canRedirect(a.to)) {
          const resent = `Resent-From: <${account}>\r\nResent-To: ${a.to.map((t) => `<${t}>`).join(", ")}\r\nResent-Date: ${rfc5322Date(view.now)}\r\n`;
          generated.push({
            kind: "forward",
            returnPath: account,
            to: a.to,
            message: traced(Buffer.concat([Buffer.from(resent), message])),
          });
        }
        break;
      case "reply": {
        const handle = `rule:${a.rule}`;
        if (!human) break;
        if (
          !(await store.claimReply(account, handle, view.envelopeFrom, view.now, view.now + REPLY_PERIOD_MS))
        ) {
          log.low("rule reply not sent", { to: account, sender: view.envelopeFrom, why: "replied" });
          break;
        }
        const to = [view.envelopeFrom];
        if (a.all) {
          for (const h of ["To", "Cc"])
            for (const v of fieldValues(view, h)) for (const x of parseAddressList(v)) to.push(x.address);
        }
        const targets = [...new Set(to.map((t) => t.toLowerCase()))].filter(
          (t) => t !== account && t.includes("@"),
        );
        generated.push({
          kind: "reply",
          returnPath: "",
          to: targets,
          message: await composeReply(view, domain, {
            kind: handle,
            from: account,
            subject: `Re: ${subjectOf(view)}`,
            text: a.text,
            mime: false,
          }),
        });
        break;
      }
      case "log":
        log.major("rule log", { to: account, rule: a.rule, text: a.text });
        break;
      case "remember":
        log.low("rule remember", { to: account, rule: a.rule, list: a.list, address: a.address });
        break;
      case "mark":
      case "addHeader":
      case "tagSubject":
      case "discard":
        break;
    }
  }
  let keep = keepsInbox(seed);

  if (sieve !== null) {
    let sieveKeeps = false;
    for (const a of sieve) {
      switch (a.kind) {
        case "keep":
          if (a.implicit) sieveKeeps = true;
          else addStore(null, letters([...a.flags]) || seedFlags);
          break;
        case "fileinto":
          addStore(a.folder, letters([...a.flags]));
          break;
        case "redirect":
          if (canRedirect([a.to]))
            generated.push({
              kind: "redirect",
              returnPath: view.envelopeFrom,
              to: [a.to],
              message: traced(message),
            });
          break;
        case "reject":
          reject ??= a.text;
          break;
        case "discard":
          break;
        case "vacation": {
          const v = vacationVerdict(a, view, false);
          const sent =
            v.send &&
            (await store.claimReply(account, a.handle, a.to, view.now, view.now + a.seconds * 1000));
          if (!sent) {
            log.low("vacation not sent", { to: account, sender: a.to, why: v.send ? "replied" : v.why });
            break;
          }
          generated.push({
            kind: "vacation",
            returnPath: "",
            to: [a.to],
            message: await composeReply(view, domain, {
              kind: `vacation:${a.handle}`,
              from: a.from || account,
              subject: a.subject,
              text: a.reason,
              mime: a.mime,
            }),
          });
          break;
        }
      }
    }
    // both rule kinds must leave the message where it is for INBOX to get its copy
    keep = keep && sieveKeeps;
  }
  if (reject !== null)
    return {
      stores: [],
      reject,
      generated: generated.filter((g) => g.kind === "mirror"),
      message: null,
    };
  if (keep) addStore(null, seedFlags);
  return { stores, reject: null, generated, message: edited ? message : null };
}

/** The answered subject, decoded (RFC 2047), without its reply prefixes. */
function subjectOf(view: MessageView): string {
  return decodeWords(fieldValues(view, "Subject")[0] ?? "").replace(/^(re:\s*)+/i, "");
}

/**
 * An auto-reply (RFC 3834) to the envelope sender, from <> (the caller's draft). Its Message-ID
 * is a digest of what it answers and when: unique per reply without a source of randomness.
 */
function composeReply(
  view: MessageView,
  domain: string,
  r: { kind: string; from: string; subject: string; text: string; mime: boolean },
): Promise<Buffer> {
  const parent = fieldValues(view, "Message-ID")[0] ?? null;
  const digest = createHash("sha256")
    .update([r.kind, r.from, view.envelopeFrom, parent ?? "", String(view.now)].join("\n"))
    .digest("hex")
    .slice(0, 32);
  return composeAutoReply({
    from: r.from,
    to: view.envelopeFrom,
    subject: r.subject,
    text: r.text,
    mime: r.mime,
    inReplyTo: parent,
    references: fieldValues(view, "References")[0] ?? null,
    now: view.now,
    // an internationalised domain goes in its A-label form: the field stays ASCII
    messageId: `<${digest}.auto@${domainToASCII(domain) || "localhost"}>`,
  });
}

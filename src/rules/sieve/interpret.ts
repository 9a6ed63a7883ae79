// The Sieve interpreter: runs a compiled script (validate.ts) over a message view and returns
// the actions as values (RFC 5228 §2.10): keep / fileinto / redirect / reject / ereject /
// discard / vacation, the header as edited by editheader, and whether the implicit keep is
// left. Pure: the vacation reply memory is a read-only function the caller passes; recording a
// reply is the caller's job once it has sent it. A run-time error (a bad regex from a variable,
// conflicting actions, too many redirects) discards every action and leaves the implicit keep,
// as RFC 5228 §2.10.6 asks. Asynchronous only to give the event loop back: every match is counted
// on a work meter (meter.ts) that pauses between slices and stops a message that costs too much,
// which is then a run-time error too (implicit keep, `limited` set for the caller's log line).
import { parseAddressList } from "../addresses.js";
import { BODY_LIMITS, type BodyPart } from "../body.js";
import { decodeWords, encodeFieldText, sameName, type HeaderField, type MessageView } from "../message.js";
import type { Argument } from "./ast.js";
import { datePart, parseRfc5322Date, parseZone, type ZonedTime } from "./dates.js";
import { addressPart, BadRegex, matchValues, type Matcher, type MatchType } from "./match.js";
import { immediatePause, WorkLimit, WorkMeter, type Pause } from "./meter.js";
import { RegexTimeout } from "./regex-runner.js";
import type { Node, Script } from "./validate.js";
import { applyModifiers, Variables } from "./variables.js";

export type SieveAction =
  | { readonly kind: "keep"; readonly flags: readonly string[]; readonly implicit: boolean }
  | {
      readonly kind: "fileinto";
      readonly folder: string;
      readonly flags: readonly string[];
      readonly copy: boolean;
    }
  | { readonly kind: "redirect"; readonly to: string; readonly copy: boolean }
  | { readonly kind: "reject"; readonly text: string; readonly ereject: boolean }
  | { readonly kind: "discard" }
  | {
      readonly kind: "vacation";
      /** The envelope sender the reply goes to. */
      readonly to: string;
      readonly from: string;
      readonly subject: string;
      readonly reason: string;
      readonly mime: boolean;
      /** Key of the reply memory, with the sender: one reply per (handle, sender) per period. */
      readonly handle: string;
      readonly seconds: number;
      /** The :addresses given: the user's other addresses. */
      readonly addresses: readonly string[];
    };

export interface SieveOptions {
  /** Upper bound of redirect actions in one run (Pigeonhole's sieve_max_redirects default). */
  readonly maxRedirects?: number;
  /** How the run gives the event loop back between slices of work (meter.ts); setImmediate. */
  readonly pause?: Pause;
  /** The meter to count on (tests read it); a new one with the default budget. */
  readonly meter?: WorkMeter;
  /**
   * The decoded body (body.ts: bodyParts, read before the run since it is asynchronous). A
   * script that requires "body" needs it: a body test without it is a run-time error.
   */
  readonly body?: readonly BodyPart[];
}

export interface SieveResult {
  /** Explicit actions in order, then the implicit keep when nothing cancelled it. */
  readonly actions: readonly SieveAction[];
  /** The header as editheader left it, or null when unchanged. */
  readonly headers: readonly HeaderField[] | null;
  /** The run-time error that aborted the script (actions is then the implicit keep only). */
  readonly error: string | null;
  /** The error was the work limit (meter.ts): the message was too costly to filter. */
  readonly limited: boolean;
}

const PROTECTED = ["received", "auto-submitted"];
const DAY = 86_400;

class RuntimeError extends Error {}
class Stop extends Error {}

export async function runSieve(
  script: Script,
  view: MessageView,
  opts: SieveOptions = {},
): Promise<SieveResult> {
  const meter = opts.meter ?? new WorkMeter(opts.pause ?? immediatePause);
  const vars = new Variables();
  const decodedCache = new Map<string, string>();
  const usesVars = script.requires.has("variables");
  let headers: HeaderField[] = [...view.headers];
  let edited = false;
  const actions: SieveAction[] = [];
  let cancelled = false;
  const flagVars = new Map<string, string[]>();
  flagVars.set("", []);
  let redirects = 0;

  const str = (s: string): string => (usesVars ? vars.expand(s) : s);
  const strings = (a: Argument | null | undefined): string[] =>
    a?.kind === "strings" ? a.values.map(str) : [];
  const one = (a: Argument | null | undefined): string => strings(a)[0] ?? "";
  const num = (a: Argument | null | undefined): number => (a?.kind === "number" ? a.value : 0);

  try {
    try {
      await block(script.commands);
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
    }
    checkConflicts();
  } catch (e) {
    // A message too costly to filter is a run-time error like any other (RFC 5228 §2.10.6):
    // the implicit keep, so it is never lost, and the caller logs it.
    const limited = e instanceof WorkLimit || e instanceof RegexTimeout;
    if (e instanceof RuntimeError || limited) {
      return {
        actions: [{ kind: "keep", flags: [], implicit: true }],
        headers: null,
        error: e.message,
        limited,
      };
    }
    throw e;
  }
  if (!cancelled) actions.push({ kind: "keep", flags: [...(flagVars.get("") ?? [])], implicit: true });
  return { actions, headers: edited ? headers : null, error: null, limited: false };

  async function block(nodes: readonly Node[]): Promise<void> {
    let lastIf: boolean | null = null;
    for (const n of nodes) {
      switch (n.name) {
        case "if":
          lastIf = await test(n.tests[0]!);
          if (lastIf) await block(n.block ?? []);
          continue;
        case "elsif":
          if (lastIf === false) {
            lastIf = await test(n.tests[0]!);
            if (lastIf) await block(n.block ?? []);
          }
          continue;
        case "else":
          if (lastIf === false) await block(n.block ?? []);
          lastIf = null;
          continue;
        default:
          lastIf = null;
          await command(n);
      }
    }
  }

  function flagsOf(n: Node): string[] {
    if (n.tags.has("flags")) return normaliseFlags(strings(n.tags.get("flags")));
    return [...(flagVars.get("") ?? [])];
  }

  function addAction(a: SieveAction): void {
    // RFC 5228 §2.10.3 / Pigeonhole: the same folder or address at most once
    if (a.kind === "keep" || a.kind === "fileinto") {
      const folder = a.kind === "keep" ? "INBOX" : a.folder;
      const i = actions.findIndex(
        (x) => (x.kind === "keep" && folder === "INBOX") || (x.kind === "fileinto" && x.folder === folder),
      );
      if (i >= 0) {
        const prev = actions[i]!;
        if (prev.kind === "fileinto" && a.kind === "fileinto" && prev.copy && !a.copy)
          actions[i] = { ...prev, copy: false };
        return;
      }
    }
    if (a.kind === "redirect") {
      const i = actions.findIndex((x) => x.kind === "redirect" && x.to.toLowerCase() === a.to.toLowerCase());
      if (i >= 0) {
        const prev = actions[i]!;
        if (prev.kind === "redirect" && prev.copy && !a.copy) actions[i] = { ...prev, copy: false };
        return;
      }
    }
    if (a.kind === "vacation" && actions.some((x) => x.kind === "vacation"))
      throw new RuntimeError("more than one vacation action");
    actions.push(a);
  }

  async function command(n: Node): Promise<void> {
    switch (n.name) {
      case "stop":
        throw new Stop();
      case "keep":
        cancelled = true;
        addAction({ kind: "keep", flags: flagsOf(n), implicit: false });
        return;
      case "discard":
        cancelled = true;
        actions.push({ kind: "discard" });
        return;
      case "fileinto": {
        const copy = n.tags.has("copy");
        if (!copy) cancelled = true;
        const folder = one(n.args[0]);
        if (folder === "" || folder.length > 255) throw new RuntimeError(`bad folder name '${folder}'`);
        addAction({ kind: "fileinto", folder, flags: flagsOf(n), copy });
        return;
      }
      case "redirect": {
        const copy = n.tags.has("copy");
        const to = one(n.args[0]);
        const parsed = parseAddressList(to)[0]?.address ?? "";
        if (!/^[^@\s]+@[^@\s]+$/.test(parsed)) throw new RuntimeError(`bad redirect address '${to}'`);
        if (++redirects > (opts.maxRedirects ?? 4)) throw new RuntimeError("too many redirect actions");
        if (!copy) cancelled = true;
        addAction({ kind: "redirect", to: parsed, copy });
        return;
      }
      case "reject":
      case "ereject":
        cancelled = true;
        if (actions.some((a) => a.kind === "reject")) return;
        actions.push({ kind: "reject", text: one(n.args[0]), ereject: n.name === "ereject" });
        return;
      case "vacation":
        vacation(n);
        return;
      case "set": {
        const mods = new Set([...n.tags.keys()]);
        vars.set(one(n.args[0]), applyModifiers(one(n.args[1]), mods));
        return;
      }
      case "setflag":
      case "addflag":
      case "removeflag": {
        const name = n.args.length === 2 ? one(n.args[0]).toLowerCase() : "";
        const list = normaliseFlags(strings(n.args[n.args.length - 1]));
        const cur = flagVars.get(name) ?? (name === "" ? [] : normaliseFlags(vars.get(name).split(" ")));
        let next: string[];
        if (n.name === "setflag") next = list;
        else if (n.name === "addflag") next = normaliseFlags([...cur, ...list]);
        else next = cur.filter((f) => !list.some((x) => x.toLowerCase() === f.toLowerCase()));
        if (name === "") flagVars.set("", next);
        else vars.set(name, next.join(" "));
        return;
      }
      case "addheader": {
        const name = one(n.args[0]);
        const value = one(n.args[1]);
        if (!/^[!-9;-~]+$/.test(name)) throw new RuntimeError(`bad header field name '${name}'`);
        if (PROTECTED.includes(name.toLowerCase())) return;
        // RFC 5293 §4: a value that is not plain ASCII text is written as encoded words
        const f = { name, value: encodeFieldText(value).replace(/\r?\n(?![ \t])/g, "\r\n ") };
        headers = n.tags.has("last") ? [...headers, f] : [f, ...headers];
        edited = true;
        return;
      }
      case "deleteheader": {
        const name = one(n.args[0]);
        if (PROTECTED.includes(name.toLowerCase())) return;
        const patterns = n.args.length === 2 ? strings(n.args[1]) : null;
        const m = matcher(n);
        const positions = headers.map((h, i) => (sameName(h.name, name) ? i : -1)).filter((i) => i >= 0);
        let targets = positions;
        if (n.tags.has("index")) {
          const k = num(n.tags.get("index"));
          const pick = n.tags.has("last") ? positions[positions.length - k] : positions[k - 1];
          targets = pick === undefined ? [] : [pick];
        }
        if (patterns) {
          const hits: number[] = [];
          for (const i of targets) {
            if ((await match(m, [await decoded(headers[i]!.value)], patterns, false)).matched) hits.push(i);
          }
          targets = hits;
        }
        if (targets.length > 0) {
          const drop = new Set(targets);
          headers = headers.filter((_h, i) => !drop.has(i));
          edited = true;
        }
        return;
      }
      default:
        throw new RuntimeError(`unsupported command '${n.name}'`);
    }
  }

  function vacation(n: Node): void {
    const reason = one(n.args[0]);
    const subjectTag = n.tags.has("subject") ? one(n.tags.get("subject")) : null;
    const fromTag = n.tags.has("from") ? one(n.tags.get("from")) : null;
    const mime = n.tags.has("mime");
    // Pigeonhole's default handle: the reason and the explicit parameters, so that a changed
    // message is sent again to people who had the old one (RFC 5230 §4.2)
    const handle = n.tags.has("handle")
      ? one(n.tags.get("handle"))
      : reason +
        (subjectTag ?? "<default-subject>") +
        (fromTag ?? "<default-from>") +
        (mime ? "<MIME>" : "<NO-MIME>");
    const days = n.tags.has("days") ? Math.max(1, num(n.tags.get("days"))) : 7;
    const subject = subjectTag ?? `Auto: ${decodeWords(fieldsOf("subject")[0] ?? "")}`.trimEnd();
    addAction({
      kind: "vacation",
      to: view.envelopeFrom,
      from: fromTag ?? view.recipient ?? "",
      subject,
      reason,
      mime,
      handle,
      seconds: days * DAY,
      addresses: strings(n.tags.get("addresses")),
    });
  }

  function checkConflicts(): void {
    const reject = actions.some((a) => a.kind === "reject");
    if (!reject) return;
    const other = actions.find(
      (a) =>
        a.kind === "keep" ||
        a.kind === "fileinto" ||
        a.kind === "vacation" ||
        (a.kind === "redirect" && !a.copy),
    );
    if (other) throw new RuntimeError(`reject conflicts with ${other.kind}`);
  }

  /**
   * A field value with its encoded words decoded (RFC 2047), once per value in a run: decoding is
   * work on the whole value, counted on the meter, with a pause before it when one is due.
   */
  async function decoded(value: string): Promise<string> {
    let d = decodedCache.get(value);
    if (d === undefined) {
      meter.charge(value.length);
      await meter.pause();
      d = decodeWords(value);
      decodedCache.set(value, d);
    }
    return d;
  }

  async function decodedAll(values: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    for (const v of values) out.push(await decoded(v));
    return out;
  }

  function fieldsOf(name: string): string[] {
    return headers.filter((h) => sameName(h.name, name)).map((h) => h.value);
  }

  function matcher(n: Node): Matcher {
    const tags = n.tags;
    let type: MatchType = { kind: "is" };
    if (tags.has("contains")) type = { kind: "contains" };
    else if (tags.has("matches")) type = { kind: "matches" };
    else if (tags.has("regex")) type = { kind: "regex" };
    else if (tags.has("value")) type = { kind: "value", relation: one(tags.get("value")).toLowerCase() };
    else if (tags.has("count")) type = { kind: "count", relation: one(tags.get("count")).toLowerCase() };
    const comparator = tags.has("comparator") ? one(tags.get("comparator")).toLowerCase() : "i;ascii-casemap";
    return { type, comparator };
  }

  /** Picks the :index'th value (from the end with :last) when the test has :index. */
  function indexed<T>(n: Node, values: T[]): T[] {
    if (!n.tags.has("index")) return values;
    const k = num(n.tags.get("index"));
    const v = n.tags.has("last") ? values[values.length - k] : values[k - 1];
    return v === undefined ? [] : [v];
  }

  /** Runs a match; a pattern that does not compile is a run-time error. */
  async function match(
    m: Matcher,
    values: string[],
    keys: string[],
    setsVariables: boolean,
  ): Promise<{ matched: boolean }> {
    let r;
    try {
      r = await matchValues(m, values, keys, meter);
    } catch (e) {
      if (e instanceof BadRegex) throw new RuntimeError("bad regular expression");
      throw e;
    }
    if (setsVariables && r.matched && r.captures && usesVars) vars.setMatches(r.captures);
    return r;
  }

  async function matchTest(n: Node, values: string[], keys: string[]): Promise<boolean> {
    return (await match(matcher(n), values, keys, true)).matched;
  }

  function addressValues(n: Node, addresses: string[]): string[] {
    const part = ["localpart", "domain", "user", "detail"].find((p) => n.tags.has(p)) ?? "all";
    return addresses.map((a) => addressPart(part, a)).filter((v): v is string => v !== null);
  }

  async function test(n: Node): Promise<boolean> {
    switch (n.name) {
      case "true":
        return true;
      case "false":
        return false;
      case "not":
        return !(await test(n.tests[0]!));
      case "allof":
        for (const t of n.tests) if (!(await test(t))) return false;
        return true;
      case "anyof":
        for (const t of n.tests) if (await test(t)) return true;
        return false;
      case "exists":
        return strings(n.args[0]).every((h) => fieldsOf(h).length > 0);
      case "size": {
        const limit = num(n.args[0]);
        return n.tags.has("over") ? view.size > limit : view.size < limit;
      }
      case "header": {
        const values = await decodedAll(strings(n.args[0]).flatMap((h) => indexed(n, fieldsOf(h))));
        if (matcher(n).type.kind !== "count" && values.length === 0) return false;
        return matchTest(n, values, strings(n.args[1]));
      }
      case "address": {
        const raw = strings(n.args[0]).flatMap((h) => indexed(n, fieldsOf(h)));
        const all = (await decodedAll(raw)).flatMap((v) => parseAddressList(v).map((a) => a.address));
        const values = addressValues(n, all);
        if (matcher(n).type.kind !== "count" && values.length === 0) return false;
        return matchTest(n, values, strings(n.args[1]));
      }
      case "envelope": {
        const raw = strings(n.args[0]).flatMap((p) => {
          const part = p.toLowerCase();
          if (part === "from") return [view.envelopeFrom];
          if (part === "to") return view.recipient ? [view.recipient] : [...view.recipients];
          return [];
        });
        // the null reverse-path has no local part or domain (RFC 5228 §5.4)
        const values = raw.flatMap((a) =>
          a === ""
            ? n.tags.has("localpart") || n.tags.has("domain") || n.tags.has("user") || n.tags.has("detail")
              ? []
              : [""]
            : addressValues(n, [a]),
        );
        if (matcher(n).type.kind !== "count" && values.length === 0) return false;
        return matchTest(n, values, strings(n.args[1]));
      }
      case "body": {
        let values: string[];
        // :raw is bounded as the decoded text is: what lies past the bound is not looked at
        if (n.tags.has("raw"))
          values = [
            view.raw.subarray(view.bodyOffset, view.bodyOffset + BODY_LIMITS.maxTotalBytes).toString("utf8"),
          ];
        else {
          const types = n.tags.has("content")
            ? strings(n.tags.get("content")).map((t) => t.toLowerCase())
            : ["text"];
          if (opts.body === undefined) throw new RuntimeError("body test without the decoded body");
          values = opts.body
            .filter((p) =>
              types.some((t) => t === "" || t === p.type || (!t.includes("/") && p.type.startsWith(t + "/"))),
            )
            .map((p) => p.text);
        }
        // body tests never set match variables (RFC 5173 §5)
        return (await match(matcher(n), values, strings(n.args[0]), false)).matched;
      }
      case "string": {
        const values = strings(n.args[0]).filter((v) => v !== "" || matcher(n).type.kind !== "count");
        return matchTest(n, values, strings(n.args[1]));
      }
      case "hasflag": {
        const names = n.args.length === 2 ? strings(n.args[0]) : null;
        const flags = names
          ? names.flatMap((v) => normaliseFlags(vars.get(v).split(" ")))
          : (flagVars.get("") ?? []);
        return matchTest(n, flags, strings(n.args[n.args.length - 1]));
      }
      case "date":
      case "currentdate": {
        const isDate = n.name === "date";
        const part = one(n.args[isDate ? 1 : 0]).toLowerCase();
        const keys = strings(n.args[isDate ? 2 : 1]);
        const zoneTag = n.tags.has("zone") ? parseZone(one(n.tags.get("zone"))) : null;
        if (n.tags.has("zone") && zoneTag === null) return false;
        let times: ZonedTime[];
        if (isDate) {
          times = indexed(n, fieldsOf(one(n.args[0])))
            .map((v) => parseRfc5322Date(v))
            .filter((t): t is ZonedTime => t !== null);
        } else times = [{ ms: view.now, zone: view.zoneOffset }];
        const shown = times.map((t) =>
          n.tags.has("originalzone") ? t : { ms: t.ms, zone: zoneTag ?? view.zoneOffset },
        );
        const values = shown.map((t) => datePart(t, part)).filter((v): v is string => v !== null);
        if (matcher(n).type.kind !== "count" && values.length === 0) return false;
        return matchTest(n, values, keys);
      }
      default:
        throw new RuntimeError(`unsupported test '${n.name}'`);
    }
  }
}

/** Flags split on spaces, duplicates (compared without case) dropped, first spelling kept. */
function normaliseFlags(list: readonly string[]): string[] {
  const out: string[] = [];
  for (const f of list.flatMap((s) => s.split(/\s+/))) {
    if (f !== "" && !out.some((x) => x.toLowerCase() === f.toLowerCase())) out.push(f);
  }
  return out;
}

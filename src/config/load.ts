// Loading settings: schema defaults < TOML file < MAILYARD_* environment < --set key=value.
// Everything read here is operator input and is checked before use: unknown keys are errors
// (with near matches named), values are parsed by the key's type and validated by the schema,
// and each error says which key and which source (file, env variable, --set) it came from.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseToml } from "smol-toml";
import { TAGS } from "../log/logger.js";
import { settingsSchema, type Settings } from "./settings.js";
import { settingKey, settingKeys, settingSections, type SettingKey } from "./keys.js";
import { nearMatches } from "./near.js";

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export interface LoadOptions {
  /** TOML file; absent: ./mailyard.toml when it exists, else none. */
  readonly file?: string;
  readonly env: NodeJS.ProcessEnv;
  /** "key=value" items, applied in order. */
  readonly sets: readonly string[];
  /** Where ./mailyard.toml is looked for; default process.cwd(). */
  readonly cwd?: string;
}

type Tree = Record<string, unknown>;

const isTable = (v: unknown): v is Tree =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);

// Settings that were removed, with what took their place: an old config file gets an error that
// says what to write instead (the meaning changed, so nothing is carried over silently).
const REPLACED: Readonly<Record<string, string>> = {
  "pop3.maxAuthFailures": "auth.maxFailures",
  "pop3.authFailureWindowSeconds": "auth.failureWindowSeconds",
  "submitApi.maxAuthFailures": "auth.maxFailures",
  "submitApi.authFailureWindowSeconds": "auth.failureWindowSeconds",
};

function unknownKey(key: string, source: string): ConfigError {
  const replaced = Object.entries(REPLACED).find(([old]) => old.toLowerCase() === key.toLowerCase());
  if (replaced !== undefined)
    return new ConfigError(
      `setting "${key}" (${source}) was replaced by ${replaced[1]}: one count of failed logins for SMTP AUTH, POP3 and the submission API, cluster-wide (docs/CONFIG.md)`,
    );
  const near = nearMatches(
    key,
    settingKeys().map((k) => k.key),
  );
  const hint =
    near.length > 0 ? `; did you mean ${near.join(", ")}?` : "; see `mailyard config show` or docs/CONFIG.md";
  return new ConfigError(`unknown setting "${key}" (${source})${hint}`);
}

/** Case-insensitive lookup, so MAILYARD_ names and hand-typed --set keys find their key. */
function findKey(key: string): SettingKey | undefined {
  const exact = settingKey(key);
  if (exact !== undefined) return exact;
  const lower = key.toLowerCase();
  return settingKeys().find((k) => k.key.toLowerCase() === lower);
}

function setPath(tree: Tree, key: string, value: unknown): void {
  const parts = key.split(".");
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (!isTable(next)) node[part] = {};
    node = node[part] as Tree;
  }
  node[parts[parts.length - 1]!] = value;
}

/** Flatten a TOML document into dotted keys, refusing keys the schema does not know. */
function flattenFile(doc: Tree, prefix: string, file: string, out: Map<string, unknown>): void {
  const sections = settingSections();
  for (const [name, value] of Object.entries(doc)) {
    const key = prefix === "" ? name : `${prefix}.${name}`;
    const known = settingKey(key);
    if (known !== undefined) out.set(key, value);
    else if (sections.has(key) && isTable(value)) flattenFile(value, key, file, out);
    else if (sections.has(key))
      throw new ConfigError(`setting "${key}" is a section (${file}); give it as a [${key}] table`);
    else throw unknownKey(key, file);
  }
}

function parseNumber(text: string): number | null {
  const t = text.trim().replace(/(?<=\d)_(?=\d)/g, "");
  if (t === "" || !/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(t)) return null;
  return Number(t);
}

const TRUE = new Set(["true", "yes", "on", "1"]);
const FALSE = new Set(["false", "no", "off", "0"]);

const splitList = (text: string): string[] =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");

/** A value written as text (environment, --set) turned into the key's type. */
export function parseText(k: SettingKey, text: string, source: string): unknown {
  const bad = (what: string): ConfigError =>
    new ConfigError(`invalid value for ${k.key} (${source}): expected ${what}, got "${text}"`);
  const scalar = (of: "string" | "number", item: string): string | number => {
    if (of === "string") return item;
    const n = parseNumber(item);
    if (n === null) throw bad(k.kind.type === "number" ? "a number" : `numbers (${k.typeName})`);
    return n;
  };
  switch (k.kind.type) {
    case "string":
    case "enum":
      return text;
    case "number":
      return scalar("number", text);
    case "boolean": {
      const t = text.trim().toLowerCase();
      if (TRUE.has(t)) return true;
      if (FALSE.has(t)) return false;
      throw bad("true or false");
    }
    case "array": {
      const of = k.kind.of;
      return splitList(text).map((item) => scalar(of, item));
    }
    case "record": {
      const of = k.kind.of;
      const out: Record<string, string | number> = {};
      for (const item of splitList(text)) {
        const eq = item.indexOf("=");
        if (eq <= 0) throw bad("NAME=VALUE pairs separated by commas");
        out[item.slice(0, eq).trim()] = scalar(of, item.slice(eq + 1).trim());
      }
      return out;
    }
  }
}

function readFile(opts: LoadOptions): { file: string; values: Map<string, unknown> } | null {
  let file = opts.file;
  if (file === undefined) {
    const fallback = resolve(opts.cwd ?? process.cwd(), "mailyard.toml");
    if (!existsSync(fallback)) return null;
    file = fallback;
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(
      `cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
  let doc: Tree;
  try {
    doc = parseToml(text);
  } catch (e) {
    throw new ConfigError(`config file ${file} is not valid TOML: ${(e as Error).message.split("\n")[0]}`);
  }
  const values = new Map<string, unknown>();
  flattenFile(doc, "", file, values);
  return { file, values };
}

/**
 * The keys the environment and --set give (already checked by loadSettings): stored settings
 * (managed.ts) yield to them.
 */
export function explicitKeys(opts: Pick<LoadOptions, "env" | "sets">): Set<string> {
  const out = new Set<string>();
  const byEnv = new Map(settingKeys().map((k) => [k.env, k.key]));
  for (const [name, text] of Object.entries(opts.env)) {
    const key = text === undefined ? undefined : byEnv.get(name);
    if (key !== undefined) out.add(key);
  }
  for (const item of opts.sets) {
    const k = findKey(item.slice(0, Math.max(item.indexOf("="), 0)).trim());
    if (k !== undefined) out.add(k.key);
  }
  return out;
}

/** The settings in effect, from every source in order of precedence. Throws ConfigError. */
export function loadSettings(opts: LoadOptions): Settings {
  const tree: Tree = {};
  const sourceOf = new Map<string, string>();

  const fromFile = readFile(opts);
  if (fromFile !== null) {
    for (const [key, value] of fromFile.values) {
      setPath(tree, key, value);
      sourceOf.set(key, fromFile.file);
    }
  }

  const byEnv = new Map(settingKeys().map((k) => [k.env, k]));
  for (const [name, text] of Object.entries(opts.env)) {
    if (!name.startsWith("MAILYARD_") || text === undefined) continue;
    const k = byEnv.get(name);
    if (k === undefined) {
      const near = nearMatches(name, [...byEnv.keys()]);
      throw new ConfigError(
        `unknown setting in environment variable ${name}${near.length > 0 ? `; did you mean ${near.join(", ")}?` : ""}`,
      );
    }
    setPath(tree, k.key, parseText(k, text, `environment ${name}`));
    sourceOf.set(k.key, `environment ${name}`);
  }

  for (const item of opts.sets) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new ConfigError(`--set expects key=value, got "${item}"`);
    const name = item.slice(0, eq).trim();
    const k = findKey(name);
    if (k === undefined) {
      if (settingSections().has(name))
        throw new ConfigError(`--set ${name}: "${name}" is a section; set one of its keys`);
      throw unknownKey(name, "--set");
    }
    setPath(tree, k.key, parseText(k, item.slice(eq + 1), `--set ${k.key}`));
    sourceOf.set(k.key, `--set ${k.key}`);
  }

  const parsed = settingsSchema.safeParse(tree);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.map(String);
    // A record entry's path runs past its key (log.levels.SMTP); name the key the operator set.
    const key =
      settingKeys().find((k) => path.join(".") === k.key || path.join(".").startsWith(`${k.key}.`))?.key ??
      path.join(".");
    const source = sourceOf.get(key);
    throw new ConfigError(
      `invalid value for ${path.join(".")}${source !== undefined ? ` (${source})` : ""}: ${issue.message}`,
    );
  }
  const settings = parsed.data;
  for (const name of Object.keys(settings.log.levels)) {
    if (!TAGS.some((t) => t === name.toUpperCase())) {
      throw new ConfigError(
        `log.levels: unknown tag "${name}" (${sourceOf.get("log.levels") ?? "?"}); tags are ${TAGS.join(", ")}`,
      );
    }
  }
  return settings;
}

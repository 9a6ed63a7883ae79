// Every setting as a dotted key ("smtp.outbound.port") with its kind, environment name, default
// and description, derived by walking the zod schema in settings.ts, so loading (load.ts), the
// CLI and docs/CONFIG.md all see the same list. No I/O.
import type { z } from "zod";
import { settingsSchema } from "./settings.js";
import { DESCRIPTIONS } from "./descriptions.js";

export type SettingKind =
  | { readonly type: "string" }
  | { readonly type: "number" }
  | { readonly type: "boolean" }
  | { readonly type: "enum"; readonly values: readonly string[] }
  | { readonly type: "array"; readonly of: "string" | "number" }
  | { readonly type: "record"; readonly of: "string" | "number" };

export interface SettingKey {
  /** Dotted path, e.g. "queue.maxMessages". */
  readonly key: string;
  /** MAILYARD_ + the key upper-cased with dots as "_", e.g. MAILYARD_QUEUE_MAXMESSAGES. */
  readonly env: string;
  readonly kind: SettingKind;
  /** The kind as written in docs and help: "number", "string[]", "single|frontend|backend". */
  readonly typeName: string;
  readonly default: unknown;
  readonly doc: string;
}

type AnySchema = z.core.$ZodType;
interface Def {
  readonly type: string;
  readonly innerType?: AnySchema;
  readonly shape?: Record<string, AnySchema>;
  readonly element?: AnySchema;
  readonly valueType?: AnySchema;
  readonly entries?: Record<string, string>;
}

const defOf = (s: AnySchema): Def => s._zod.def;

/** Strip default/prefault/optional wrappers down to the type that values must have. */
function unwrap(s: AnySchema): AnySchema {
  let cur = s;
  for (;;) {
    const d = defOf(cur);
    if ((d.type === "default" || d.type === "prefault" || d.type === "optional") && d.innerType)
      cur = d.innerType;
    else return cur;
  }
}

function scalar(s: AnySchema, key: string): "string" | "number" {
  const t = defOf(unwrap(s)).type;
  if (t === "string" || t === "number") return t;
  throw new Error(`settings schema: unsupported element type ${t} at ${key}`);
}

function kindOf(s: AnySchema, key: string): SettingKind {
  const d = defOf(s);
  switch (d.type) {
    case "string":
    case "number":
    case "boolean":
      return { type: d.type };
    case "enum":
      return { type: "enum", values: Object.values(d.entries ?? {}) };
    case "array":
      return { type: "array", of: scalar(d.element!, key) };
    case "record":
      return { type: "record", of: scalar(d.valueType!, key) };
    default:
      throw new Error(`settings schema: unsupported type ${d.type} at ${key}`);
  }
}

const typeNameOf = (k: SettingKind): string => {
  switch (k.type) {
    case "enum":
      return k.values.join("|");
    case "array":
      return `${k.of}[]`;
    case "record":
      return `map of ${k.of}`;
    case "string":
    case "number":
    case "boolean":
      return k.type;
  }
};

export const envName = (key: string): string => `MAILYARD_${key.replace(/\./g, "_").toUpperCase()}`;

function walk(
  shape: Record<string, AnySchema>,
  prefix: string,
  defaults: Record<string, unknown>,
  out: SettingKey[],
): void {
  for (const [name, field] of Object.entries(shape)) {
    const key = prefix === "" ? name : `${prefix}.${name}`;
    const inner = unwrap(field);
    const d = defOf(inner);
    if (d.type === "object" && d.shape) {
      walk(d.shape, key, defaults[name] as Record<string, unknown>, out);
      continue;
    }
    const kind = kindOf(inner, key);
    out.push({
      key,
      env: envName(key),
      kind,
      typeName: typeNameOf(kind),
      default: defaults[name],
      doc: DESCRIPTIONS[key] ?? "",
    });
  }
}

function build(): SettingKey[] {
  const out: SettingKey[] = [];
  walk(settingsSchema.shape, "", settingsSchema.parse({}), out);
  // The environment mapping must be one-to-one, or an env variable could mean two settings.
  const seen = new Map<string, string>();
  for (const k of out) {
    const other = seen.get(k.env);
    if (other !== undefined) throw new Error(`settings schema: ${k.key} and ${other} share ${k.env}`);
    seen.set(k.env, k.key);
  }
  return out;
}

const KEYS: readonly SettingKey[] = build();
const BY_KEY = new Map(KEYS.map((k) => [k.key, k]));

/** Every setting, in schema order. */
export const settingKeys = (): readonly SettingKey[] => KEYS;

export const settingKey = (key: string): SettingKey | undefined => BY_KEY.get(key);

/** Every section prefix ("smtp", "smtp.outbound", ...), for telling a section from a typo. */
export const settingSections = (): ReadonlySet<string> => {
  const out = new Set<string>();
  for (const k of KEYS) {
    const parts = k.key.split(".");
    for (let i = 1; i < parts.length; i++) out.add(parts.slice(0, i).join("."));
  }
  return out;
};

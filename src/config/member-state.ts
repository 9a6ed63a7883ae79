// A node's own record of where its shared state is: <dataDir>/state.location, written at every
// start. A member of a cluster usually gets state.url from its start command or environment,
// which the CLI run later with only the member's dataDir and http.listen does not see; without
// this record such a command fell back to <dataDir>/mailyard.db and wrote into a stray file
// there. The CLI reads it (memberStateSettings) whenever its own state.url is unset.
//
// The file is never a secret: a PostgreSQL URL is recorded without its password (the CLI then
// needs state.url of its own, and says so). It is our own output but is still validated when
// read back (anything may have been written there).
import { readFileSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ConfigError } from "./load.js";
import { stateLocation, type StateLocation } from "./paths.js";
import type { Settings } from "./settings.js";

export const stateRecordPath = (dataDir: string): string => join(resolve(dataDir), "state.location");

interface StateRecord {
  readonly version: 1;
  readonly kind: "sqlite" | "postgres";
  /** The SQLite file's absolute path, or the PostgreSQL URL without its password. */
  readonly location: string;
  /** The URL the node uses has a password, left out here. */
  readonly passwordOmitted: boolean;
  readonly node: string;
}

/** The PostgreSQL URL without a password (in the userinfo or as a ?password= parameter). */
function withoutPassword(url: string): { url: string; omitted: boolean } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // Not parseable as a URL: record nothing that could be a secret.
    return { url: "postgres://(unparseable state.url)", omitted: true };
  }
  const omitted = u.password !== "" || u.searchParams.has("password");
  u.password = "";
  u.searchParams.delete("password");
  return { url: u.toString(), omitted };
}

/** Written by the node at start, before anything else uses the state (atomic replace). */
export async function recordStateLocation(settings: Settings): Promise<void> {
  const where = stateLocation(settings);
  const pg = where.kind === "postgres" ? withoutPassword(where.url) : null;
  const record: StateRecord = {
    version: 1,
    kind: where.kind,
    location: where.kind === "sqlite" ? where.path : pg!.url,
    passwordOmitted: pg?.omitted ?? false,
    node: settings.node.id,
  };
  const file = stateRecordPath(settings.dataDir);
  await mkdir(resolve(settings.dataDir), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(record, null, 2) + "\n", { mode: 0o600 });
  await rename(tmp, file);
}

function readRecord(file: string): StateRecord | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new ConfigError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch {
    r = null;
  }
  const o = r as Partial<StateRecord> | null;
  if (
    o === null ||
    typeof o !== "object" ||
    o.version !== 1 ||
    (o.kind !== "sqlite" && o.kind !== "postgres") ||
    typeof o.location !== "string" ||
    o.location === "" ||
    typeof o.passwordOmitted !== "boolean"
  )
    throw new ConfigError(`${file} is not a state location record (remove it; the node writes it at start)`);
  return o as StateRecord;
}

/** Where the node with this dataDir keeps its state, as it recorded at its last start; or null. */
export function recordedStateLocation(dataDir: string): StateLocation | null {
  const r = readRecord(stateRecordPath(dataDir));
  if (r === null) return null;
  return r.kind === "sqlite" ? { kind: "sqlite", path: r.location } : { kind: "postgres", url: r.location };
}

/**
 * The settings a CLI command opens the state with: its own when state.url is set (file, env or
 * --set), else the state the member with this dataDir recorded, else the default file. A
 * member on PostgreSQL with a password cannot be opened from the record alone: ConfigError.
 */
export function memberStateSettings(settings: Settings): Settings {
  if (settings.state.url.trim() !== "") return settings;
  const file = stateRecordPath(settings.dataDir);
  const r = readRecord(file);
  if (r === null) return settings;
  if (r.passwordOmitted)
    throw new ConfigError(
      `the node with dataDir ${resolve(settings.dataDir)} keeps its state on PostgreSQL at ${r.location} ` +
        `(${file}); give this command the same state.url (config file, MAILYARD_STATE_URL or --set)`,
    );
  return { ...settings, state: { ...settings.state, url: r.location } };
}

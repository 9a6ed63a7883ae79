// Paths that settings derive from the data directory unless set: the shared state (a SQLite file
// or a PostgreSQL URL) and the Maildir root. One place, so the node, the CLI and `cluster up`
// agree on where things are.
import { isAbsolute, join, resolve } from "node:path";
import type { Settings } from "./settings.js";
import { ConfigError } from "./load.js";

/** Where the directory and the cluster state live. */
export type StateLocation =
  { readonly kind: "sqlite"; readonly path: string } | { readonly kind: "postgres"; readonly url: string };

const isPostgres = (url: string): boolean => /^postgres(ql)?:\/\//i.test(url);

export function stateLocation(settings: Settings): StateLocation {
  const url = settings.state.url.trim();
  if (isPostgres(url)) return { kind: "postgres", url };
  return { kind: "sqlite", path: sqlitePath(settings, url) };
}

function sqlitePath(settings: Settings, url: string): string {
  if (url === "") return join(resolve(settings.dataDir), "mailyard.db");
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !url.startsWith("sqlite:")) {
    throw new ConfigError(
      `state.url: unsupported state store ${JSON.stringify(url.split(":")[0])} (use a SQLite file path or postgres://)`,
    );
  }
  const path = url.startsWith("sqlite:") ? url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "") : url;
  if (path === "") throw new ConfigError("state.url: sqlite: needs a file path");
  return isAbsolute(path) ? path : resolve(path);
}

/**
 * The SQLite file of this node: the shared state file when state.url names one; with PostgreSQL
 * state, dataDir/mailyard.db, the node's own file for stores that are not on PostgreSQL.
 */
export function statePath(settings: Settings): string {
  const url = settings.state.url.trim();
  return sqlitePath(settings, isPostgres(url) ? "" : url);
}

/** Root of the Maildir mailboxes. */
export function mailRoot(settings: Settings): string {
  const dir = settings.local.mailDir.trim();
  return dir === "" ? join(resolve(settings.dataDir), "mail") : resolve(dir);
}

/** The key file sealing the stored RPOP passwords (src/sources/rpop/seal.ts). */
export function rpopKeyPath(settings: Settings): string {
  const file = settings.rpop.keyFile.trim();
  return file === "" ? join(resolve(settings.dataDir), "secrets", "rpop.key") : resolve(file);
}

/** The Submitted folder: *.sub files there are submitted (the seed's PIPE module). */
export function submittedDir(settings: Settings): string {
  const dir = settings.submitted.dir.trim();
  return dir === "" ? join(resolve(settings.dataDir), "Submitted") : resolve(dir);
}

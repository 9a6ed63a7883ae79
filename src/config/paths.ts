// Paths that settings derive from the data directory unless set: the shared state file and the
// Maildir root. One place, so the node, the CLI and `cluster up` agree on where things are.
import { isAbsolute, join, resolve } from "node:path";
import type { Settings } from "./settings.js";
import { ConfigError } from "./load.js";

/** The SQLite file holding the directory and the cluster state. */
export function statePath(settings: Settings): string {
  const url = settings.state.url.trim();
  if (url === "") return join(resolve(settings.dataDir), "mailyard.db");
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !url.startsWith("sqlite:")) {
    throw new ConfigError(
      `state.url: unsupported state store ${JSON.stringify(url.split(":")[0])} (use a SQLite file path)`,
    );
  }
  const path = url.startsWith("sqlite:") ? url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "") : url;
  if (path === "") throw new ConfigError("state.url: sqlite: needs a file path");
  return isAbsolute(path) ? path : resolve(path);
}

/** Root of the Maildir mailboxes. */
export function mailRoot(settings: Settings): string {
  const dir = settings.local.mailDir.trim();
  return dir === "" ? join(resolve(settings.dataDir), "mail") : resolve(dir);
}

/** The Submitted folder: *.sub files there are submitted (the seed's PIPE module). */
export function submittedDir(settings: Settings): string {
  const dir = settings.submitted.dir.trim();
  return dir === "" ? join(resolve(settings.dataDir), "Submitted") : resolve(dir);
}

// The directory as the CLI's directory commands use it: through the running node's admin API
// when it answers, else the SQLite file opened directly (the node is not running, so nobody
// else writes it). API errors come back as the DirectoryErrors the directory would have thrown.
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { statePath } from "../config/paths.js";
import type { Settings } from "../config/settings.js";
import { DirectoryError, type Account, type Alias, type Directory } from "../directory/directory.js";
import { systemClock } from "../world/clock.js";
import { connectAdmin, replyError, type AdminClient, type AdminReply } from "./admin-client.js";
import { CliError } from "./io.js";

export type DirectoryOps = Pick<
  Directory,
  | "addDomain"
  | "removeDomain"
  | "listDomains"
  | "addAccount"
  | "removeAccount"
  | "listAccounts"
  | "updateAccount"
  | "addAlias"
  | "removeAlias"
  | "listAliases"
  | "close"
>;

function expect(r: AdminReply, ...statuses: number[]): Record<string, unknown> {
  if (statuses.includes(r.status)) return r.body;
  const message = replyError(r);
  if (r.status === 409) throw new DirectoryError("exists", message);
  if (r.status === 404) throw new DirectoryError("not-found", message);
  if (r.status === 400) throw new DirectoryError("invalid", message);
  throw new CliError(`admin API: ${message}`);
}

const seg = encodeURIComponent;
const query = (domain: string | undefined): string => (domain === undefined ? "" : `?domain=${seg(domain)}`);

function overApi(api: AdminClient): DirectoryOps {
  return {
    addDomain: async (name) => void expect(await api.request("POST", "/api/domains", { name }), 201),
    removeDomain: async (name) => void expect(await api.request("DELETE", `/api/domains/${seg(name)}`), 200),
    listDomains: async () => expect(await api.request("GET", "/api/domains"), 200)["domains"] as string[],
    addAccount: async (address, password, settings = {}) =>
      expect(
        await api.request("POST", "/api/accounts", { address, password, ...settings }),
        201,
      ) as unknown as Account,
    removeAccount: async (address) =>
      void expect(await api.request("DELETE", `/api/accounts/${seg(address)}`), 200),
    listAccounts: async (domain) =>
      expect(await api.request("GET", `/api/accounts${query(domain)}`), 200)["accounts"] as Account[],
    updateAccount: async (address, patch) =>
      expect(await api.request("PATCH", `/api/accounts/${seg(address)}`, patch), 200) as unknown as Account,
    addAlias: async (address, targets) =>
      void expect(await api.request("POST", "/api/aliases", { address, targets }), 201),
    removeAlias: async (address) =>
      void expect(await api.request("DELETE", `/api/aliases/${seg(address)}`), 200),
    listAliases: async (domain) =>
      expect(await api.request("GET", `/api/aliases${query(domain)}`), 200)["aliases"] as Alias[],
    close: () => Promise.resolve(),
  };
}

/** The directory of the node these settings describe, running or not. */
export async function openDirectoryAccess(settings: Settings): Promise<{ ops: DirectoryOps; via: string }> {
  const api = await connectAdmin(settings);
  if (api !== null) return { ops: overApi(api), via: `admin API at ${api.address}` };
  const path = statePath(settings);
  await mkdir(dirname(path), { recursive: true });
  // Loaded only here: the native SQLite module is not needed when the node is running.
  const { openSqliteDirectory } = await import("../directory/sqlite.js");
  return { ops: openSqliteDirectory(path, systemClock), via: path };
}

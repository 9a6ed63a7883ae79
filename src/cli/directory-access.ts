// The directory as the CLI's directory commands use it: through the running node's admin API
// when it answers, else the state store opened directly (the SQLite file, or PostgreSQL, as
// state.url says, or as the member with this dataDir recorded: config/member-state.ts;
// server/state-stores.ts picks). API errors come back as the DirectoryErrors the directory would have thrown.
// A new account of a static cluster gets its home backend either way: the node's admin API
// assigns it, and the direct path does the same against the shared state file.
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { pickHome } from "../cluster/homes.js";
import type { ClusterState } from "../cluster/state.js";
import { memberStateSettings, recordedStateLocation } from "../config/member-state.js";
import { stateLocation, type StateLocation } from "../config/paths.js";
import type { Settings } from "../config/settings.js";
import {
  DirectoryError,
  type Account,
  type AccountSettings,
  type Alias,
  type Directory,
} from "../directory/directory.js";
import { openClusterStateStore, openDirectoryStore, requireExistingState } from "../server/state-stores.js";
import { redactUrl } from "../state/pg.js";
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
  | "grantSender"
  | "revokeSender"
  | "senderGrants"
  | "close"
> & {
  /** addAccount, plus the home backend in a static cluster (null outside one). */
  addHomedAccount(
    address: string,
    password: string,
    settings: Partial<AccountSettings>,
    home: string | undefined,
  ): Promise<{ account: Account; home: string | null }>;
};

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
    addHomedAccount: async (address, password, settings, home) => {
      const body = expect(
        await api.request("POST", "/api/accounts", {
          address,
          password,
          ...settings,
          ...(home !== undefined ? { home } : {}),
        }),
        201,
      );
      const { home: got, ...account } = body;
      return { account: account as unknown as Account, home: typeof got === "string" ? got : null };
    },
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
    grantSender: async (account, address) =>
      void expect(await api.request("POST", `/api/accounts/${seg(account)}/senders`, { address }), 201),
    revokeSender: async (account, address) =>
      void expect(await api.request("DELETE", `/api/accounts/${seg(account)}/senders/${seg(address)}`), 200),
    senderGrants: async (account) =>
      expect(await api.request("GET", `/api/accounts/${seg(account)}/senders`), 200)["senders"] as string[],
    close: () => Promise.resolve(),
  };
}

/** Where a state is, for messages: the file, or the URL without its password. */
export function describeState(where: StateLocation): string {
  return where.kind === "sqlite" ? where.path : redactUrl(where.url);
}

/** Where a running node writes: its own state, named when it recorded it at start. */
export function viaApi(settings: Settings, address: string): string {
  const recorded = recordedStateLocation(settings.dataDir);
  const through = `through the admin API at ${address}`;
  return recorded === null ? through : `${describeState(recorded)} (${through})`;
}

/**
 * The directory of the node these settings describe, running or not, and where its state is.
 * readOnly: the state must exist already (requireExistingState); nothing is created.
 */
export async function openDirectoryAccess(
  given: Settings,
  o: { readonly readOnly?: boolean } = {},
): Promise<{ ops: DirectoryOps; via: string }> {
  const api = await connectAdmin(given);
  if (api !== null) return { ops: overApi(api), via: viaApi(given, api.address) };
  // Not running: the state the member recorded at its last start, unless state.url says otherwise.
  const settings = memberStateSettings(given);
  if (o.readOnly === true) await requireExistingState(settings, "directory");
  const where = stateLocation(settings);
  if (where.kind === "sqlite") await mkdir(dirname(where.path), { recursive: true, mode: 0o700 });
  // Opened only here: the store's driver is not needed when the node is running.
  const directory = await openDirectoryStore(settings, systemClock);
  const withState = async <T>(fn: (s: ClusterState) => Promise<T>): Promise<T> => {
    const state = await openClusterStateStore(settings, systemClock);
    try {
      return await fn(state);
    } finally {
      await state.close();
    }
  };
  const ops: DirectoryOps = {
    addDomain: (n) => directory.addDomain(n),
    removeDomain: (n) => directory.removeDomain(n),
    listDomains: () => directory.listDomains(),
    addAccount: (a, p, s) => directory.addAccount(a, p, s),
    removeAccount: async (a) => {
      await directory.removeAccount(a);
      await withState(async (state) => {
        if ((await state.homeOf(a)) !== null) await state.clearHome(a);
      });
    },
    listAccounts: (d) => directory.listAccounts(d),
    updateAccount: (a, p) => directory.updateAccount(a, p),
    addAlias: (a, t) => directory.addAlias(a, t),
    removeAlias: (a) => directory.removeAlias(a),
    listAliases: (d) => directory.listAliases(d),
    grantSender: (a, g) => directory.grantSender(a, g),
    revokeSender: (a, g) => directory.revokeSender(a, g),
    senderGrants: async (a) => {
      if ((await directory.getAccount(a)) === null)
        throw new DirectoryError("not-found", `no account ${a.trim().toLowerCase()}`);
      return directory.senderGrants(a);
    },
    close: () => directory.close(),
    addHomedAccount: (address, password, s, requested) =>
      withState(async (state) => {
        const rows = await state.members();
        const now = systemClock.now();
        const backends = rows.filter((m) => m.role === "backend");
        // Outside a static cluster (no backend ever joined, nothing asked for) there are no homes.
        const homed = settings.cluster.kind === "static" && (requested !== undefined || backends.length > 0);
        if (!homed) return { account: await directory.addAccount(address, password, s), home: null };
        const live = backends
          .filter((m) => !m.left && now - m.lastHeartbeat <= settings.cluster.downAfterSeconds * 1000)
          .map((m) => m.id);
        const choice = await pickHome(state, { address, requested, liveBackends: live });
        if ("refused" in choice) throw new CliError(`account add: home: ${choice.refused}`);
        const account = await directory.addAccount(address, password, s);
        await state.setHome(account.address, choice.node);
        return { account, home: choice.node };
      }),
  };
  return { ops, via: describeState(where) };
}

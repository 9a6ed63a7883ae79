// mailyard rpop add|list|remove: an account's RPOP entries (remote POP3 mailboxes it polls).
// Through the running node's admin API when it answers (a single server or backend: the RPOP
// source serves the routes), else the state (SQLite file or PostgreSQL, as state.url says, or
// as the member with this dataDir recorded) opened directly, as the directory commands do. The password is sent to the node (or stored)
// and never printed.
import type { Settings } from "../config/settings.js";
import { DirectoryError } from "../directory/directory.js";
import { withDefaults, newEntrySchema } from "../sources/rpop/routes.js";
import { entryView, RpopError, type RpopEntryView, type RpopStore } from "../sources/rpop/store.js";
import { memberStateSettings } from "../config/member-state.js";
import { stateLocation } from "../config/paths.js";
import { openDirectoryStore, openRpopStoreFor, requireExistingState } from "../server/state-stores.js";
import { systemClock } from "../world/clock.js";
import { connectAdmin, replyError } from "./admin-client.js";
import { describeState, viaApi } from "./directory-access.js";
import { table } from "./directory-commands.js";
import { CliError, UsageError, type CliIo } from "./io.js";

export interface RpopOptions {
  readonly host?: string | undefined;
  readonly port?: string | undefined;
  readonly tls?: string | undefined;
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  readonly apop?: boolean | undefined;
  readonly keep?: boolean | undefined;
  readonly delete?: boolean | undefined;
  readonly interval?: string | undefined;
  readonly insecure?: boolean | undefined;
  readonly json?: boolean | undefined;
}

interface RpopOps {
  add(account: string, body: Record<string, unknown>): Promise<RpopEntryView>;
  list(account: string): Promise<RpopEntryView[]>;
  remove(account: string, id: string): Promise<void>;
  close(): Promise<void>;
}

const seg = encodeURIComponent;

const int = (option: string, text: string): number => {
  if (!/^\d{1,9}$/.test(text.trim()))
    throw new UsageError(`--${option}: expected a whole number, got "${text}"`);
  return Number(text);
};

/** The request body for a new entry, from the options. */
export function entryBody(o: RpopOptions): Record<string, unknown> {
  if (o.host === undefined) throw new UsageError("rpop add needs --host HOST");
  if (o.user === undefined) throw new UsageError("rpop add needs --user NAME");
  if (o.password === undefined) throw new UsageError("rpop add needs --password P");
  if (o.keep === true && o.delete === true) throw new UsageError("--keep and --delete contradict each other");
  if (o.tls !== undefined && !["none", "stls", "tls"].includes(o.tls))
    throw new UsageError(`--tls: none, stls or tls, got "${o.tls}"`);
  return {
    host: o.host,
    user: o.user,
    password: o.password,
    ...(o.port !== undefined ? { port: int("port", o.port) } : {}),
    ...(o.tls !== undefined ? { tls: o.tls } : {}),
    ...(o.insecure === true ? { tlsVerify: false } : {}),
    ...(o.apop === true ? { apop: true } : {}),
    ...(o.keep === true ? { keep: true } : {}),
    ...(o.interval !== undefined ? { intervalSeconds: int("interval", o.interval) } : {}),
  };
}

async function openRpopAccess(given: Settings, readOnly: boolean): Promise<RpopOps & { via: string }> {
  const api = await connectAdmin(given);
  if (api !== null) {
    const call = async (method: string, path: string, want: number, body?: unknown) => {
      const r = await api.request(method, path, body);
      if (r.status === want) return r.body;
      if (r.status === 404 && replyError(r).startsWith("no such endpoint"))
        throw new CliError(
          `the node at ${api.address} serves no RPOP entries (run rpop commands against a single server or backend)`,
        );
      throw new CliError(`rpop: ${replyError(r)}`);
    };
    return {
      add: async (a, body) =>
        (await call("POST", `/api/accounts/${seg(a)}/rpop`, 201, body)) as unknown as RpopEntryView,
      list: async (a) =>
        (await call("GET", `/api/accounts/${seg(a)}/rpop`, 200))["entries"] as RpopEntryView[],
      remove: async (a, id) => void (await call("DELETE", `/api/accounts/${seg(a)}/rpop/${seg(id)}`, 200)),
      close: () => Promise.resolve(),
      via: viaApi(given, api.address),
    };
  }
  // As the directory commands do: the member's recorded state unless state.url is given, and
  // for a listing only one that exists already.
  const settings = memberStateSettings(given);
  if (readOnly) await requireExistingState(settings, "rpop");
  // The adapters are loaded only here: not needed when the node is running.
  const directory = await openDirectoryStore(settings, systemClock);
  let store: RpopStore;
  try {
    store = await openRpopStoreFor(settings, systemClock);
  } catch (e) {
    await directory.close();
    throw e;
  }
  const account = async (a: string): Promise<string> => {
    const got = await directory.getAccount(a);
    if (got === null) throw new DirectoryError("not-found", `no account ${a}`);
    return got.address;
  };
  return {
    async add(a, body) {
      const parsed = newEntrySchema.safeParse(body);
      if (!parsed.success) throw new UsageError(parsed.error.issues[0]?.message ?? "invalid entry");
      return entryView(await store.add(await account(a), withDefaults(parsed.data)));
    },
    list: async (a) => (await store.list(await account(a))).map(entryView),
    async remove(a, id) {
      if (!(await store.remove(await account(a), id)))
        throw new RpopError("not-found", `${a} has no RPOP entry ${id}`);
    },
    async close() {
      await store.close();
      await directory.close();
    },
    via: describeState(stateLocation(settings)),
  };
}

const describe = (e: RpopEntryView): string[] => [
  e.id,
  `${e.user}@${e.host}:${e.port}`,
  e.tls + (e.tls !== "none" && !e.tlsVerify ? " (unverified)" : ""),
  e.apop ? "apop" : "user/pass",
  e.keep ? "keep" : "delete",
  `${e.intervalSeconds}s`,
];

export async function rpopCommand(
  settings: Settings,
  io: CliIo,
  verb: string,
  args: readonly string[],
  o: RpopOptions,
): Promise<void> {
  const account = args[0]!;
  const ops = await openRpopAccess(settings, verb === "list");
  try {
    switch (verb) {
      case "add": {
        const e = await ops.add(account, entryBody(o));
        io.out(`rpop entry ${e.id} added for ${e.account}: ${describe(e).slice(1).join(", ")}`);
        io.err(`wrote to state ${ops.via}`);
        return;
      }
      case "list": {
        const entries = await ops.list(account);
        if (o.json === true) io.out(JSON.stringify(entries, null, 2));
        else if (entries.length === 0) io.out(`${account} has no RPOP entries`);
        else io.out(table([["ID", "REMOTE", "TLS", "LOGIN", "MODE", "EVERY"], ...entries.map(describe)]));
        return;
      }
      case "remove":
        await ops.remove(account, args[1]!);
        io.out(`rpop entry ${args[1]!} removed from ${account}`);
        io.err(`wrote to state ${ops.via}`);
        return;
    }
    throw new UsageError(`unknown command: rpop ${verb}`);
  } catch (e) {
    if (e instanceof RpopError) throw new CliError(`rpop: ${e.message}`);
    throw e;
  } finally {
    await ops.close();
  }
}

// Admin API routes over the directory: domains, accounts (with the addresses each may send as:
// accounts/:address/senders), aliases. Bodies are validated here
// (shape and bounds); the directory itself decides what is a duplicate, missing or invalid
// value (DirectoryError → 409/404/400). Passwords go to the directory and nowhere else.
// On a static cluster's members a new account gets its home backend here (AccountHomes), so
// an account created through any node is never left without one. On a dynamic cluster's
// members the account pages show who holds each account open (AccountOwners, the leases).
import { z } from "zod";
import type { AccountHomes, AccountOwners } from "../cluster/account-placement.js";
import { addressKey, domainKey } from "../directory/address.js";
import type { Account, AccountSettings, Directory } from "../directory/directory.js";
import { ApiError, ok, parseBody, type ApiRequest, type Route } from "../http/api.js";

const address = z.string().min(3).max(320);
const name = z.string().min(1).max(253);
const password = z.string().min(1).max(1024);
const flow = z
  .strictObject({ messages: z.number().int().positive(), periodSeconds: z.number().int().positive() })
  .nullable();
const accountFields = {
  enabled: z.boolean().optional(),
  quotaBytes: z.number().int().nonnegative().nullable().optional(),
  maxMessageSize: z.number().int().positive().nullable().optional(),
  outFlow: flow.optional(),
  inFlow: flow.optional(),
};
const nodeId = z.string().min(1).max(128);
const newAccount = z.strictObject({ address, password, home: nodeId.optional(), ...accountFields });
const accountPatch = z.strictObject({
  password: password.optional(),
  home: nodeId.optional(),
  ...accountFields,
});
const newDomain = z.strictObject({ name });
const newAlias = z.strictObject({ address, targets: z.array(address).min(1).max(1000) });
/** An address or "@domain" the account may send as (Directory.grantSender checks the syntax). */
const newGrant = z.strictObject({ address: z.string().min(2).max(320) });

type Fields = z.infer<typeof accountPatch>;

/** Where accounts live, as the account routes show it; neither on a single server. */
export interface AccountPlacement {
  readonly homes?: AccountHomes | undefined;
  readonly owners?: AccountOwners | undefined;
}

/** Which of home / owner an account carries in the answers (the pages pick their column by it). */
type PlacementKind = "static" | "dynamic" | "single";

/** A page of the account list: `q` is a substring of the address; offset and limit bound it. */
function pageOf(req: ApiRequest): { q: string; offset: number; limit: number } | null {
  const q = req.query.get("q");
  const offset = req.query.get("offset");
  const limit = req.query.get("limit");
  if (q === null && offset === null && limit === null) return null;
  const num = (v: string | null, dflt: number, max: number, key: string): number => {
    if (v === null || v === "") return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > max) throw new ApiError(400, `${key}: integer 0..${max}`);
    return n;
  };
  return {
    q: (q ?? "").trim().toLowerCase().slice(0, 320),
    offset: num(offset, 0, 10_000_000, "offset"),
    limit: Math.max(1, num(limit, 50, 1000, "limit")),
  };
}

/** The settings given in a body, leaving out the absent ones (exactOptionalPropertyTypes). */
function settingsOf(b: Fields): Partial<AccountSettings> {
  const s: { -readonly [K in keyof AccountSettings]?: AccountSettings[K] } = {};
  if (b.enabled !== undefined) s.enabled = b.enabled;
  if (b.quotaBytes !== undefined) s.quotaBytes = b.quotaBytes;
  if (b.maxMessageSize !== undefined) s.maxMessageSize = b.maxMessageSize;
  if (b.outFlow !== undefined) s.outFlow = b.outFlow;
  if (b.inFlow !== undefined) s.inFlow = b.inFlow;
  return s;
}

const param = (req: ApiRequest, key: string): string => {
  const v = req.params[key] ?? "";
  if (v.length === 0 || v.length > 320) throw new ApiError(400, `invalid ${key}`);
  return v;
};

const domainFilter = (req: ApiRequest): string | undefined => req.query.get("domain") ?? undefined;

export function directoryRoutes(directory: Directory, placement: AccountPlacement = {}): Route[] {
  const { homes, owners } = placement;
  const kind: PlacementKind = homes !== undefined ? "static" : owners !== undefined ? "dynamic" : "single";
  /** The account the request's :address names; a 404 when there is none. */
  const named = async (req: ApiRequest): Promise<Account> => {
    const a = param(req, "address");
    const account = await directory.getAccount(a);
    if (account === null) throw new ApiError(404, `no account ${a}`);
    return account;
  };
  /** The accounts with their home (static) or current owner (dynamic): one state query for all. */
  const placed = async (accounts: readonly Account[]): Promise<Record<string, unknown>[]> => {
    if (homes !== undefined) {
      const homeOf = new Map((await homes.all()).map((h) => [h.account, h.node]));
      return accounts.map((a) => ({ ...a, home: homeOf.get(a.address) ?? null }));
    }
    if (owners !== undefined) {
      const ownerOf = new Map((await owners.all()).map((o) => [o.account, o.owner]));
      return accounts.map((a) => ({ ...a, owner: ownerOf.get(a.address) ?? null }));
    }
    return accounts.map((a) => ({ ...a, home: null }));
  };
  return [
    {
      method: "GET",
      pattern: "domains",
      handler: async () => ok({ domains: await directory.listDomains() }),
    },
    {
      method: "GET",
      pattern: "domains/:name",
      handler: async (req) => {
        const domain = param(req, "name");
        if (!(await directory.isLocalDomain(domain))) throw new ApiError(404, `no domain ${domain}`);
        return ok({ name: domainKey(domain) });
      },
    },
    {
      method: "POST",
      pattern: "domains",
      handler: async (req) => {
        const body = parseBody(newDomain, req.body);
        await directory.addDomain(body.name);
        return ok({ name: domainKey(body.name) }, 201);
      },
    },
    {
      method: "DELETE",
      pattern: "domains/:name",
      handler: async (req) => {
        await directory.removeDomain(param(req, "name"));
        return ok({ ok: true });
      },
    },

    {
      method: "GET",
      pattern: "accounts",
      handler: async (req) => {
        const all = await directory.listAccounts(domainFilter(req));
        const page = pageOf(req);
        if (page === null) return ok({ accounts: all });
        const hits = page.q === "" ? all : all.filter((a) => a.address.includes(page.q));
        const slice = hits.slice(page.offset, page.offset + page.limit);
        return ok({
          kind,
          accounts: await placed(slice),
          total: hits.length,
          offset: page.offset,
          limit: page.limit,
        });
      },
    },
    {
      method: "POST",
      pattern: "accounts",
      handler: async (req) => {
        const body = parseBody(newAccount, req.body);
        if (homes === undefined) {
          if (body.home !== undefined)
            throw new ApiError(400, "home: this node is not a member of a static cluster");
          return ok(await directory.addAccount(body.address, body.password, settingsOf(body)), 201);
        }
        // Chosen first, so a refusal creates nothing.
        const home = await homes.choose(body.address, body.home);
        if ("refused" in home) throw new ApiError(409, `home: ${home.refused}`);
        const account = await directory.addAccount(body.address, body.password, settingsOf(body));
        await homes.record(account.address, home.node);
        return ok({ ...account, home: home.node }, 201);
      },
    },
    {
      method: "GET",
      pattern: "accounts/:address",
      handler: async (req) => {
        const account = await named(req);
        if (homes !== undefined) return ok({ ...account, kind, home: await homes.of(account.address) });
        if (owners !== undefined) return ok({ ...account, kind, owner: await owners.of(account.address) });
        return ok({ ...account, kind });
      },
    },
    {
      method: "PATCH",
      pattern: "accounts/:address",
      handler: async (req) => {
        const body = parseBody(accountPatch, req.body);
        const address = param(req, "address");
        if (body.home !== undefined) {
          if (homes === undefined)
            throw new ApiError(400, "home: this node is not a member of a static cluster");
          if ((await directory.getAccount(address)) === null)
            throw new ApiError(404, `no account ${address}`);
        }
        const patch =
          body.password !== undefined ? { ...settingsOf(body), password: body.password } : settingsOf(body);
        const account = await directory.updateAccount(address, patch);
        if (body.home === undefined || homes === undefined) return ok(account);
        const moved = await homes.move(account.address, body.home);
        if ("refused" in moved) throw new ApiError(409, `home: ${moved.refused}`);
        return ok({ ...account, home: moved.node });
      },
    },
    {
      method: "DELETE",
      pattern: "accounts/:address",
      handler: async (req) => {
        const a = param(req, "address");
        await directory.removeAccount(a);
        await homes?.forget(a);
        return ok({ ok: true });
      },
    },

    {
      method: "GET",
      pattern: "accounts/:address/senders",
      handler: async (req) => {
        const account = await named(req);
        return ok({ account: account.address, senders: await directory.senderGrants(account.address) });
      },
    },
    {
      method: "POST",
      pattern: "accounts/:address/senders",
      handler: async (req) => {
        const body = parseBody(newGrant, req.body);
        const a = param(req, "address");
        await directory.grantSender(a, body.address);
        return ok({ account: a.toLowerCase(), address: body.address.trim().toLowerCase() }, 201);
      },
    },
    {
      method: "DELETE",
      pattern: "accounts/:address/senders/:sender",
      handler: async (req) => {
        await directory.revokeSender(param(req, "address"), param(req, "sender"));
        return ok({ ok: true });
      },
    },

    {
      method: "GET",
      pattern: "aliases",
      handler: async (req) => ok({ aliases: await directory.listAliases(domainFilter(req)) }),
    },
    {
      method: "POST",
      pattern: "aliases",
      handler: async (req) => {
        const body = parseBody(newAlias, req.body);
        await directory.addAlias(body.address, body.targets);
        return ok({ address: addressKey(body.address), targets: body.targets }, 201);
      },
    },
    {
      method: "DELETE",
      pattern: "aliases/:address",
      handler: async (req) => {
        await directory.removeAlias(param(req, "address"));
        return ok({ ok: true });
      },
    },
  ];
}

// Admin API routes over the rule store: the seed-style rule sets of a server (rules/server is
// the serving node's own, rules/server/NODE any member's: server rules run only on their node),
// the cluster, a domain or an account (GET returns the text form and the parsed rules; POST
// {text} replaces the set after parsing it), and accounts' Sieve scripts (POST {script} is validated first). A
// rule set or script that does not parse is 400 with every error's line and column, so an
// editor can point at it. URL segments and bodies are untrusted.
import { z } from "zod";
import { formatRules, lineColumn, parseRules, RuleTextError } from "../rules/seed/text.js";
import { compileSieve } from "../rules/sieve/index.js";
import { validNodeId } from "../cluster/api/auth.js";
import type { RuleScope, RuleStore } from "../rules/store.js";
import { ApiError, ok, parseBody, type ApiRequest, type Route } from "../http/api.js";

const MAX_TEXT = 60 * 1024;
const textBody = z.strictObject({ text: z.string().max(MAX_TEXT) });
const scriptBody = z.strictObject({ script: z.string().max(MAX_TEXT) });

const name = (req: ApiRequest, key: string, account: boolean): string => {
  const v = (req.params[key] ?? "").trim().toLowerCase();
  if (v.length === 0 || v.length > 320 || (account && !v.includes("@")))
    throw new ApiError(400, `invalid ${key}`);
  return v;
};

const nodeOf = (req: ApiRequest): string => {
  const v = (req.params["node"] ?? "").trim();
  if (!validNodeId(v)) throw new ApiError(400, "invalid node");
  return v;
};

const answerFor = (scope: RuleScope): Record<string, string> =>
  scope.kind === "server" ? { node: scope.node } : {};

function scopeRoutes(store: RuleStore, pattern: string, scope: (req: ApiRequest) => RuleScope): Route[] {
  return [
    {
      method: "GET",
      pattern,
      handler: async (req) => {
        const at = scope(req);
        const rules = await store.getRules(at);
        return ok({ ...answerFor(at), text: formatRules(rules), rules });
      },
    },
    {
      method: "POST",
      pattern,
      handler: async (req) => {
        const { text } = parseBody(textBody, req.body);
        let rules;
        try {
          rules = parseRules(text);
        } catch (e) {
          if (!(e instanceof RuleTextError)) throw e;
          return ok(
            {
              error: `invalid rules: ${e.message}`,
              errors: [{ ...lineColumn(text, e.offset), message: e.reason }],
            },
            400,
          );
        }
        const at = scope(req);
        await store.setRules(at, rules);
        return ok({ ok: true, ...answerFor(at), rules: rules.length });
      },
    },
  ];
}

/** `self`: the serving node's id, whose server rules rules/server reads and writes. */
export function rulesRoutes(store: RuleStore, self: string): Route[] {
  return [
    ...scopeRoutes(store, "rules/server", () => ({ kind: "server", node: self })),
    ...scopeRoutes(store, "rules/server/:node", (req) => ({ kind: "server", node: nodeOf(req) })),
    ...scopeRoutes(store, "rules/cluster", () => ({ kind: "cluster" })),
    ...scopeRoutes(store, "rules/domain/:domain", (req) => ({
      kind: "domain",
      name: name(req, "domain", false),
    })),
    ...scopeRoutes(store, "rules/account/:account", (req) => ({
      kind: "account",
      address: name(req, "account", true),
    })),
    {
      method: "GET",
      pattern: "sieve/:account",
      handler: async (req) => {
        const account = name(req, "account", true);
        const script = await store.getSieve(account);
        if (script === null) throw new ApiError(404, `no sieve script for ${account}`);
        return ok({ account, script });
      },
    },
    {
      method: "POST",
      pattern: "sieve/:account",
      handler: async (req) => {
        const account = name(req, "account", true);
        const { script } = parseBody(scriptBody, req.body);
        const r = compileSieve(script);
        if (!r.ok) {
          return ok(
            {
              error: "invalid sieve script",
              errors: r.errors.map((e) => ({ line: e.pos.line, column: e.pos.column, message: e.reason })),
            },
            400,
          );
        }
        await store.setSieve(account, script);
        return ok({ ok: true, account });
      },
    },
    {
      method: "DELETE",
      pattern: "sieve/:account",
      handler: async (req) => {
        const account = name(req, "account", true);
        await store.setSieve(account, null);
        return ok({ ok: true, account });
      },
    },
  ];
}

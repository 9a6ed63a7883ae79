// rules and sieve commands: read and replace the seed-style rule sets (a node's server rules,
// cluster, domain, account) and accounts' Sieve scripts in the rule store of the shared state.
// `server` means this node's (node.id of the options given) unless --node names another.
// A running node reads rules from that file at each message, so these work with or without it.
// Uploads are validated first; errors name the line and column.
import { readFile } from "node:fs/promises";
import { openRuleStoreFor } from "../server/state-stores.js";
import type { Settings } from "../config/settings.js";
import { formatRules, lineColumn, parseRules, RuleTextError } from "../rules/seed/text.js";
import { compileSieve } from "../rules/sieve/index.js";
import type { RuleScope, RuleStore } from "../rules/store.js";
import { validNodeId } from "../cluster/api/auth.js";
import { CliError, UsageError, type CliIo } from "./io.js";
import { withOpened } from "./opened.js";

/** "server" | "cluster" | "domain D" | "account A" from the positional arguments. */
export function scopeOf(args: readonly string[], node: string | undefined, self: string): RuleScope {
  const [kind, name] = args;
  if (node !== undefined && kind !== "server") throw new UsageError("rules: --node goes with server only");
  if (kind === "server" && name === undefined) {
    const id = node ?? self;
    if (!validNodeId(id)) throw new UsageError(`rules: invalid node id '${id}'`);
    return { kind, node: id };
  }
  if (kind === "cluster" && name === undefined) return { kind };
  if (kind === "domain" && name !== undefined) return { kind, name: name.toLowerCase() };
  if (kind === "account" && name !== undefined && name.includes("@"))
    return { kind, address: name.toLowerCase() };
  throw new UsageError("rules: the scope is server, cluster, domain NAME or account ADDRESS");
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    throw new CliError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

// Loaded only here: the native SQLite module is needed by these commands alone.
const withStore = <T>(settings: Settings, fn: (s: RuleStore) => Promise<T>): Promise<T> =>
  withOpened(() => openRuleStoreFor(settings, () => Date.now()), fn);

const describe = (s: RuleScope): string =>
  s.kind === "domain"
    ? `domain ${s.name}`
    : s.kind === "account"
      ? `account ${s.address}`
      : s.kind === "server"
        ? `server rules of node ${s.node}`
        : s.kind;

export async function rulesCommand(
  settings: Settings,
  io: CliIo,
  verb: string,
  args: readonly string[],
  o: { file?: string | undefined; json?: boolean | undefined; node?: string | undefined },
): Promise<void> {
  const scope = scopeOf(args, o.node, settings.node.id);
  if (verb === "get") {
    const rules = await withStore(settings, (s) => s.getRules(scope));
    io.out(o.json === true ? JSON.stringify(rules, null, 2) : formatRules(rules));
    return;
  }
  if (verb === "set") {
    if (o.file === undefined) throw new UsageError("rules set needs --file F (the rule set in text form)");
    const text = await readText(o.file);
    let rules;
    try {
      rules = parseRules(text);
    } catch (e) {
      if (!(e instanceof RuleTextError)) throw e;
      const at = lineColumn(text, e.offset);
      throw new CliError(`${o.file}:${at.line}:${at.column}: ${e.reason}`);
    }
    await withStore(settings, (s) => s.setRules(scope, rules));
    io.out(`${describe(scope)}: ${rules.length} rule${rules.length === 1 ? "" : "s"} set`);
    return;
  }
  throw new UsageError(`unknown command: rules ${verb}`);
}

function checkScript(file: string, text: string): void {
  const r = compileSieve(text);
  if (!r.ok)
    throw new CliError(r.errors.map((e) => `${file}:${e.pos.line}:${e.pos.column}: ${e.reason}`).join("\n"));
}

export async function sieveCommand(
  settings: Settings,
  io: CliIo,
  verb: string,
  args: readonly string[],
): Promise<void> {
  switch (verb) {
    case "check": {
      const file = args[args.length - 1]!;
      checkScript(file, await readText(file));
      io.out(`${file}: valid`);
      return;
    }
    case "put": {
      const [account, file] = args as [string, string];
      if (!account.includes("@")) throw new UsageError("sieve put ACCOUNT FILE");
      const text = await readText(file);
      checkScript(file, text);
      await withStore(settings, (s) => s.setSieve(account, text));
      io.out(`sieve script of ${account.toLowerCase()} stored`);
      return;
    }
    case "get": {
      const script = await withStore(settings, (s) => s.getSieve(args[0]!));
      if (script === null) throw new CliError(`no sieve script for ${args[0]!.toLowerCase()}`);
      io.out(script);
      return;
    }
    case "remove": {
      await withStore(settings, (s) => s.setSieve(args[0]!, null));
      io.out(`sieve script of ${args[0]!.toLowerCase()} removed`);
      return;
    }
  }
  throw new UsageError(`unknown command: sieve ${verb}`);
}

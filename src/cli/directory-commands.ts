// domain, account and alias commands: turn parsed arguments into directory calls and print
// the result. Addresses and names are checked by the directory itself (the one place that
// knows the rules); here only the option syntax is checked. Names are printed as stored
// (lower-case, an IDN as A-labels).
import { addressKey, domainKey } from "../directory/address.js";
import type { Account, AccountSettings } from "../directory/directory.js";
import type { DirectoryOps } from "./directory-access.js";
import { UsageError, type CliIo } from "./io.js";
import { formatBytes, formatFlow, parseBytes, parseFlow } from "./values.js";

export interface AccountOptions {
  readonly password?: string | undefined;
  readonly quota?: string | undefined;
  readonly "max-message-size"?: string | undefined;
  readonly disabled?: boolean | undefined;
  readonly enabled?: boolean | undefined;
  readonly "out-flow"?: string | undefined;
  readonly "in-flow"?: string | undefined;
}

/** The account settings named on the command line; absent options are left out. */
export function accountSettings(o: AccountOptions): Partial<AccountSettings> {
  if (o.enabled === true && o.disabled === true)
    throw new UsageError("--enabled and --disabled contradict each other");
  const s: { -readonly [K in keyof AccountSettings]?: AccountSettings[K] } = {};
  if (o.enabled === true) s.enabled = true;
  if (o.disabled === true) s.enabled = false;
  if (o.quota !== undefined) s.quotaBytes = parseBytes("quota", o.quota, true);
  if (o["max-message-size"] !== undefined)
    s.maxMessageSize = parseBytes("max-message-size", o["max-message-size"], true);
  if (o["out-flow"] !== undefined) s.outFlow = parseFlow("out-flow", o["out-flow"]);
  if (o["in-flow"] !== undefined) s.inFlow = parseFlow("in-flow", o["in-flow"]);
  return s;
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  "))
    .join("\n");
}

const accountRow = (a: Account): string[] => [
  a.address,
  a.enabled ? "enabled" : "disabled",
  formatBytes(a.quotaBytes),
  formatBytes(a.usedBytes),
  formatBytes(a.maxMessageSize, "default"),
  formatFlow(a.outFlow),
  formatFlow(a.inFlow),
];
/** A directory command: its verb and positional arguments, the options parsed for it. */
export type DirectoryCommand<O> = (
  dir: DirectoryOps,
  io: CliIo,
  verb: string,
  args: readonly string[],
  o: O,
) => Promise<void>;

/** --json: lists as JSON. */
interface Listing {
  readonly json?: boolean | undefined;
}

const ACCOUNT_HEADER = ["ADDRESS", "MAIL", "QUOTA", "USED", "MAXSIZE", "OUTFLOW", "INFLOW"];

export const domainCommand: DirectoryCommand<Listing> = async (dir, io, verb, args, o) => {
  switch (verb) {
    case "add":
      await dir.addDomain(args[0]!);
      io.out(`domain ${domainKey(args[0]!)} added`);
      return;
    case "remove":
      await dir.removeDomain(args[0]!);
      io.out(`domain ${domainKey(args[0]!)} removed`);
      return;
    case "list": {
      const domains = await dir.listDomains();
      if (o.json === true) io.out(JSON.stringify(domains));
      else for (const d of domains) io.out(d);
      return;
    }
  }
  throw new UsageError(`unknown command: domain ${verb}`);
};

export const accountCommand: DirectoryCommand<
  AccountOptions & Listing & { home?: string | undefined }
> = async (dir, io, verb, args, o) => {
  switch (verb) {
    case "add": {
      if (o.password === undefined || o.password === "") throw new UsageError("account add needs --password");
      if (o.enabled === true)
        throw new UsageError("account add: accounts are enabled unless --disabled is given");
      const { account: a, home } = await dir.addHomedAccount(
        args[0]!,
        o.password,
        accountSettings(o),
        o.home,
      );
      io.out(home === null ? `account ${a.address} added` : `account ${a.address} added, home ${home}`);
      return;
    }
    case "set": {
      const patch = accountSettings(o);
      const full = o.password !== undefined ? { ...patch, password: o.password } : patch;
      if (Object.keys(full).length === 0)
        throw new UsageError("account set: nothing to change (give an option such as --quota)");
      const a = await dir.updateAccount(args[0]!, full);
      io.out(`account ${a.address} updated`);
      return;
    }
    case "remove":
      await dir.removeAccount(args[0]!);
      io.out(`account ${addressKey(args[0]!)} removed`);
      return;
    case "grant-sender":
      await dir.grantSender(args[0]!, args[1]!);
      io.out(`account ${args[0]!.toLowerCase()} may send as ${args[1]!.trim().toLowerCase()}`);
      return;
    case "revoke-sender":
      await dir.revokeSender(args[0]!, args[1]!);
      io.out(`account ${args[0]!.toLowerCase()} may no longer send as ${args[1]!.trim().toLowerCase()}`);
      return;
    case "senders": {
      const grants = await dir.senderGrants(args[0]!);
      if (o.json === true) io.out(JSON.stringify(grants));
      else for (const g of grants) io.out(g);
      return;
    }
    case "list": {
      const accounts = await dir.listAccounts(args[0]);
      if (o.json === true) io.out(JSON.stringify(accounts, null, 2));
      else if (accounts.length > 0) io.out(table([ACCOUNT_HEADER, ...accounts.map(accountRow)]));
      return;
    }
  }
  throw new UsageError(`unknown command: account ${verb}`);
};

export const aliasCommand: DirectoryCommand<Listing> = async (dir, io, verb, args, o) => {
  switch (verb) {
    case "add":
      await dir.addAlias(args[0]!, args.slice(1));
      io.out(`alias ${addressKey(args[0]!)} added`);
      return;
    case "remove":
      await dir.removeAlias(args[0]!);
      io.out(`alias ${addressKey(args[0]!)} removed`);
      return;
    case "list": {
      const aliases = await dir.listAliases(args[0]);
      if (o.json === true) io.out(JSON.stringify(aliases, null, 2));
      else for (const a of aliases) io.out(`${a.address} -> ${a.targets.join(", ")}`);
      return;
    }
  }
  throw new UsageError(`unknown command: alias ${verb}`);
};

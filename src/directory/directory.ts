// The directory: domains, accounts, aliases/forwarders, credentials and per-account limits.
// One interface, two adapters (SQLite, PostgreSQL); every method is async so the PostgreSQL
// adapter fits. Addresses are stored lower-cased (local part and domain).
import { CallerError } from "../proto/caller-error.js";

/** MailOutFlow / MailInpFlow: at most `messages` in any `periodSeconds` window. */
export interface FlowLimit {
  readonly messages: number;
  readonly periodSeconds: number;
}

export interface AccountSettings {
  /** Mail enabled: false → 550 5.2.1 at RCPT. */
  readonly enabled: boolean;
  /** MaxAccountSize in bytes; null = unlimited. */
  readonly quotaBytes: number | null;
  /** Largest message this account may receive or send, in bytes; null = server default. */
  readonly maxMessageSize: number | null;
  /** MailOutFlow; null = unlimited. */
  readonly outFlow: FlowLimit | null;
  /** MailInpFlow; null = unlimited. */
  readonly inFlow: FlowLimit | null;
}

export interface Account extends AccountSettings {
  /** "local@domain", lower-case. */
  readonly address: string;
  readonly localPart: string;
  readonly domain: string;
  /** Bytes stored in the mailbox, as counted by deliveries. */
  readonly usedBytes: number;
  readonly createdAt: number;
}

export interface Alias {
  readonly address: string;
  /** Local or remote addresses; a remote one makes this a forwarder. */
  readonly targets: readonly string[];
}

export type RecipientLookup =
  | { readonly kind: "account"; readonly account: Account }
  | { readonly kind: "alias"; readonly alias: Alias }
  /** Local domain, no such address. */
  | { readonly kind: "unknown" }
  /** Not a local domain. */
  | { readonly kind: "remote" };

export type FlowDirection = "in" | "out";

/** Thrown for caller mistakes the CLI reports as they are (duplicate, not found, bad value). */
export class DirectoryError extends CallerError<"exists" | "not-found" | "invalid"> {}

export interface Directory {
  addDomain(name: string): Promise<void>;
  /** Refuses (DirectoryError "invalid") while the domain still has accounts or aliases. */
  removeDomain(name: string): Promise<void>;
  listDomains(): Promise<string[]>;
  isLocalDomain(name: string): Promise<boolean>;

  addAccount(address: string, password: string, settings?: Partial<AccountSettings>): Promise<Account>;
  removeAccount(address: string): Promise<void>;
  getAccount(address: string): Promise<Account | null>;
  listAccounts(domain?: string): Promise<Account[]>;
  updateAccount(address: string, patch: Partial<AccountSettings> & { password?: string }): Promise<Account>;
  /** The account when the password matches (scrypt, constant-time compare), else null. */
  verifyPassword(address: string, password: string): Promise<Account | null>;
  /**
   * A value that changes whenever the account's credentials do (password, enabled, removal and
   * re-creation); null for no account. One indexed read, no hashing: what caches of password
   * checks are keyed on, so a change takes effect at the next check.
   */
  credentialStamp(address: string): Promise<string | null>;

  addAlias(address: string, targets: readonly string[]): Promise<void>;
  removeAlias(address: string): Promise<void>;
  listAliases(domain?: string): Promise<Alias[]>;

  /** What an address is: an account, an alias, unknown in a local domain, or remote. */
  lookup(address: string): Promise<RecipientLookup>;

  /**
   * Sender grants (sender-owner.ts): an address ("x@domain", local or foreign) or a whole
   * domain ("@domain") the account may use as envelope sender and in From:, besides itself and
   * the aliases that deliver to it. Granting twice is DirectoryError "exists"; revoking what was
   * not granted, "not-found"; both need the account. Removing the account removes its grants.
   */
  grantSender(account: string, address: string): Promise<void>;
  revokeSender(account: string, address: string): Promise<void>;
  /** The account's grants, sorted; empty for an unknown account. */
  senderGrants(account: string): Promise<string[]>;

  /** Add (or with a negative number, subtract) bytes to an account's usage. */
  addUsage(address: string, bytes: number): Promise<void>;
  /**
   * Set an account's usage (bytes >= 0) to what its mailbox holds (delivery/mailbox-usage.ts);
   * ordered with addUsage calls made before and after it.
   */
  setUsage(address: string, bytes: number): Promise<void>;
  /** Record one message for the flow limits, at time `at` (ms epoch). */
  recordFlow(address: string, direction: FlowDirection, at: number): Promise<void>;
  /** Messages recorded since `since` (ms epoch). */
  countFlow(address: string, direction: FlowDirection, since: number): Promise<number>;

  close(): Promise<void>;
}

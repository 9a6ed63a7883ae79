// The embedded directory: a SQLite file (better-sqlite3) shared by the server and the CLI, so it
// runs in WAL mode with a busy timeout and migrates inside an IMMEDIATE transaction (two
// processes opening a fresh file at once must not both migrate). Every address is validated
// and lower-cased on the way in (operator input is untrusted); an address is an account or an
// alias, never both. Caller mistakes throw DirectoryError; anything else is a real failure.
import type Database from "better-sqlite3";
import { migrateSqlite } from "../state/sqlite-migrate.js";
import type { Clock } from "../world/clock.js";
import {
  DirectoryError,
  type Alias,
  type Directory,
  type FlowDirection,
  type RecipientLookup,
} from "./directory.js";
import {
  aliasTargets,
  checkPassword,
  checkSettings,
  DEFAULT_SETTINGS,
  MAX_PASSWORD,
  merge,
  MIN_FLOW_RETENTION_MS,
  settingsColumns,
  SWEEP_EVERY,
  toAccount,
  credentialStamp,
  type AccountRow,
} from "./account-rows.js";
import {
  addressKey,
  domainKey,
  normalizeDomain,
  parseMailboxAddress,
  parseSenderGrant,
  parseTargetAddress,
  splitAddress,
} from "./address.js";
import { DIRECTORY_MIGRATION_TABLE, MIGRATIONS } from "./migrations.js";
import { hashPassword, verifyPassword } from "./password.js";
import { openStateFile } from "../state/sqlite-open.js";

function migrate(db: Database.Database): void {
  migrateSqlite(db, DIRECTORY_MIGRATION_TABLE, MIGRATIONS, "directory", Date.now());
}

export function openSqliteDirectory(path: string, clock: Clock): Directory {
  // synchronous NORMAL (the default): the directory is not where acknowledged mail lives.
  const db = openStateFile(path, { what: "directory", foreignKeys: true }, migrate);

  const q = {
    domainExists: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM domains WHERE name = ?"),
    addDomain: db.prepare("INSERT INTO domains (name, created_at) VALUES (?, ?)"),
    removeDomain: db.prepare("DELETE FROM domains WHERE name = ?"),
    listDomains: db.prepare<[], { name: string }>("SELECT name FROM domains ORDER BY name"),
    domainUse: db.prepare<[string, string], { n: number }>(
      "SELECT (SELECT COUNT(*) FROM accounts WHERE domain = ?) + (SELECT COUNT(*) FROM aliases WHERE domain = ?) AS n",
    ),
    getAccount: db.prepare<[string], AccountRow>("SELECT * FROM accounts WHERE address = ?"),
    listAccounts: db.prepare<[], AccountRow>("SELECT * FROM accounts ORDER BY domain, local_part"),
    listAccountsIn: db.prepare<[string], AccountRow>(
      "SELECT * FROM accounts WHERE domain = ? ORDER BY local_part",
    ),
    insertAccount: db.prepare(
      `INSERT INTO accounts (address, local_part, domain, password_hash, enabled, quota_bytes, max_message_size,
        out_flow_messages, out_flow_period, in_flow_messages, in_flow_period, used_bytes, created_at)
       VALUES (@address, @local_part, @domain, @password_hash, @enabled, @quota_bytes, @max_message_size,
        @out_flow_messages, @out_flow_period, @in_flow_messages, @in_flow_period, 0, @created_at)`,
    ),
    updateAccount: db.prepare(
      `UPDATE accounts SET enabled = @enabled, quota_bytes = @quota_bytes, max_message_size = @max_message_size,
        out_flow_messages = @out_flow_messages, out_flow_period = @out_flow_period,
        in_flow_messages = @in_flow_messages, in_flow_period = @in_flow_period,
        password_hash = COALESCE(@password_hash, password_hash)
       WHERE address = @address`,
    ),
    removeAccount: db.prepare("DELETE FROM accounts WHERE address = ?"),
    aliasExists: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM aliases WHERE address = ?"),
    insertAlias: db.prepare(
      "INSERT INTO aliases (address, local_part, domain, created_at) VALUES (?, ?, ?, ?)",
    ),
    insertTarget: db.prepare("INSERT INTO alias_targets (alias, position, target) VALUES (?, ?, ?)"),
    removeAlias: db.prepare("DELETE FROM aliases WHERE address = ?"),
    aliasTargets: db.prepare<[string], { target: string }>(
      "SELECT target FROM alias_targets WHERE alias = ? ORDER BY position",
    ),
    listAliases: db.prepare<[], { alias: string; target: string }>(
      `SELECT a.address AS alias, t.target FROM aliases a JOIN alias_targets t ON t.alias = a.address
       ORDER BY a.domain, a.local_part, t.position`,
    ),
    listAliasesIn: db.prepare<[string], { alias: string; target: string }>(
      `SELECT a.address AS alias, t.target FROM aliases a JOIN alias_targets t ON t.alias = a.address
       WHERE a.domain = ? ORDER BY a.local_part, t.position`,
    ),
    addUsage: db.prepare("UPDATE accounts SET used_bytes = MAX(0, used_bytes + ?) WHERE address = ?"),
    setUsage: db.prepare("UPDATE accounts SET used_bytes = ? WHERE address = ?"),
    recordFlow: db.prepare("INSERT INTO flow_events (address, direction, at) VALUES (?, ?, ?)"),
    pruneFlow: db.prepare("DELETE FROM flow_events WHERE address = ? AND direction = ? AND at < ?"),
    sweepFlow: db.prepare("DELETE FROM flow_events WHERE at < ?"),
    longestPeriod: db.prepare<[], { p: number | null }>(
      "SELECT MAX(MAX(COALESCE(in_flow_period, 0)), MAX(COALESCE(out_flow_period, 0))) AS p FROM accounts",
    ),
    countFlow: db.prepare<[string, string, number], { n: number }>(
      "SELECT COUNT(*) AS n FROM flow_events WHERE address = ? AND direction = ? AND at >= ?",
    ),
    removeFlow: db.prepare("DELETE FROM flow_events WHERE address = ?"),
    insertGrant: db.prepare(
      "INSERT INTO sender_grants (account, address, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    ),
    removeGrant: db.prepare("DELETE FROM sender_grants WHERE account = ? AND address = ?"),
    listGrants: db.prepare<[string], { address: string }>(
      "SELECT address FROM sender_grants WHERE account = ? ORDER BY address",
    ),
  };

  const domainExists = (d: string): boolean => q.domainExists.get(d) !== undefined;
  const requireDomain = (d: string): void => {
    if (!domainExists(d)) throw new DirectoryError("not-found", `domain ${d} does not exist (add it first)`);
  };
  const requireFree = (address: string): void => {
    if (q.getAccount.get(address) !== undefined)
      throw new DirectoryError("exists", `account ${address} already exists`);
    if (q.aliasExists.get(address) !== undefined)
      throw new DirectoryError("exists", `alias ${address} already exists`);
  };
  const accountRow = (address: string): AccountRow => {
    const row = q.getAccount.get(parseMailboxAddress(address).address);
    if (row === undefined) throw new DirectoryError("not-found", `no account ${addressKey(address)}`);
    return row;
  };
  const settingsParams = (s: Parameters<typeof settingsColumns>[0]) => ({
    enabled: s.enabled ? 1 : 0,
    ...settingsColumns(s),
  });
  const groupAliases = (rows: { alias: string; target: string }[]): Alias[] => {
    const out = new Map<string, string[]>();
    for (const r of rows) {
      const list = out.get(r.alias) ?? [];
      list.push(r.target);
      out.set(r.alias, list);
    }
    return [...out].map(([address, targets]) => ({ address, targets }));
  };
  let recorded = 0;

  // Usage updates (one per delivery) arriving in one turn of the event loop share one write
  // transaction: group commit for the counter every delivery touches. Each UPDATE still runs in
  // order with its own clamp at zero, so the result is that of the calls one by one; a caller is
  // answered once the transaction holding its update has committed.
  let usageBatch: { a: string; bytes: number; set: boolean; resolve(): void; reject(e: unknown): void }[] =
    [];
  const flushUsage = (): void => {
    const batch = usageBatch;
    usageBatch = [];
    // Already written by close(): the flush it had scheduled finds nothing to do.
    if (batch.length === 0) return;
    let missing: boolean[];
    try {
      missing = db.transaction(() =>
        batch.map((u) => (u.set ? q.setUsage : q.addUsage).run(u.bytes, u.a).changes === 0),
      )();
    } catch (e) {
      for (const u of batch) u.reject(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    batch.forEach((u, i) => {
      if (missing[i] === true) u.reject(new DirectoryError("not-found", `no account ${u.a}`));
      else u.resolve();
    });
  };

  const usage = (address: string, bytes: number, set: boolean): Promise<void> => {
    if (!Number.isSafeInteger(bytes) || (set && bytes < 0))
      return Promise.reject(new DirectoryError("invalid", "usage must be an integer number of bytes"));
    const a = addressKey(address);
    return new Promise<void>((resolve, reject) => {
      if (usageBatch.push({ a, bytes, set, resolve, reject }) === 1) setImmediate(flushUsage);
    });
  };

  // better-sqlite3 is synchronous; the async wrappers keep the Directory contract uniform with
  // the PostgreSQL adapter and turn synchronous throws into rejections.
  const run = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  };

  const dir: Directory = {
    addDomain: (name) =>
      run(() => {
        const d = normalizeDomain(name);
        if (domainExists(d)) throw new DirectoryError("exists", `domain ${d} already exists`);
        q.addDomain.run(d, clock.now());
      }),

    removeDomain: (name) =>
      run(() => {
        const d = normalizeDomain(name);
        requireDomain(d);
        const use = q.domainUse.get(d, d)?.n ?? 0;
        if (use > 0)
          throw new DirectoryError("invalid", `domain ${d} still has ${use} account(s) or alias(es)`);
        q.removeDomain.run(d);
      }),

    listDomains: () => run(() => q.listDomains.all().map((r) => r.name)),

    isLocalDomain: (name) => run(() => domainExists(domainKey(name))),

    async addAccount(address, password, settings = {}) {
      const a = parseMailboxAddress(address);
      checkPassword(password);
      const s = merge(DEFAULT_SETTINGS, settings);
      checkSettings(s);
      // Validate before hashing (cheap errors first), and again in the transaction after the
      // hash, since another process may have raced us.
      await run(() => {
        requireDomain(a.domain);
        requireFree(a.address);
      });
      const hash = await hashPassword(password);
      return run(() =>
        db
          .transaction(() => {
            requireDomain(a.domain);
            requireFree(a.address);
            q.insertAccount.run({
              address: a.address,
              local_part: a.localPart,
              domain: a.domain,
              password_hash: hash,
              created_at: clock.now(),
              ...settingsParams(s),
            });
            return toAccount(accountRow(a.address));
          })
          .immediate(),
      );
    },

    removeAccount: (address) =>
      run(() => {
        const row = accountRow(address);
        db.transaction(() => {
          q.removeAccount.run(row.address);
          q.removeFlow.run(row.address);
        })();
      }),

    getAccount: (address) =>
      run(() => {
        const row = q.getAccount.get(addressKey(address));
        return row === undefined ? null : toAccount(row);
      }),

    credentialStamp: (address) =>
      run(() => {
        const row = q.getAccount.get(address.trim().toLowerCase());
        return row === undefined ? null : credentialStamp(row);
      }),

    listAccounts: (domain) =>
      run(() =>
        (domain === undefined ? q.listAccounts.all() : q.listAccountsIn.all(normalizeDomain(domain))).map(
          toAccount,
        ),
      ),

    async updateAccount(address, patch) {
      const { password, ...rest } = patch;
      if (password !== undefined) checkPassword(password);
      const before = await run(() => accountRow(address));
      const s = merge(toAccount(before), rest);
      checkSettings(s);
      const hash = password !== undefined ? await hashPassword(password) : null;
      return run(() => {
        const r = q.updateAccount.run({ address: before.address, password_hash: hash, ...settingsParams(s) });
        if (r.changes === 0) throw new DirectoryError("not-found", `no account ${before.address}`);
        return toAccount(accountRow(before.address));
      });
    },

    async verifyPassword(address, password) {
      const row = q.getAccount.get(addressKey(address));
      // An over-long password cannot match (none is stored); it is checked against the dummy
      // so it costs the same, and never hashed whole (bounded work per attempt).
      const tooLong = password.length > MAX_PASSWORD;
      const ok = await verifyPassword(
        password.slice(0, MAX_PASSWORD),
        tooLong ? null : (row?.password_hash ?? null),
      );
      return ok && row !== undefined ? toAccount(row) : null;
    },

    addAlias: (address, targets) =>
      run(() => {
        const a = parseMailboxAddress(address);
        const list = aliasTargets(a.address, targets, (t) => parseTargetAddress(t).address);
        db.transaction(() => {
          requireDomain(a.domain);
          requireFree(a.address);
          q.insertAlias.run(a.address, a.localPart, a.domain, clock.now());
          list.forEach((t, i) => q.insertTarget.run(a.address, i, t));
        }).immediate();
      }),

    removeAlias: (address) =>
      run(() => {
        const a = parseMailboxAddress(address);
        if (q.removeAlias.run(a.address).changes === 0)
          throw new DirectoryError("not-found", `no alias ${a.address}`);
      }),

    listAliases: (domain) =>
      run(() =>
        groupAliases(
          domain === undefined ? q.listAliases.all() : q.listAliasesIn.all(normalizeDomain(domain)),
        ),
      ),

    lookup: (address) =>
      run((): RecipientLookup => {
        const { domain } = splitAddress(address);
        const a = addressKey(address);
        if (domain === "" || !domainExists(domain)) return { kind: "remote" };
        const row = q.getAccount.get(a);
        if (row !== undefined) return { kind: "account", account: toAccount(row) };
        if (q.aliasExists.get(a) !== undefined) {
          return {
            kind: "alias",
            alias: { address: a, targets: q.aliasTargets.all(a).map((r) => r.target) },
          };
        }
        return { kind: "unknown" };
      }),

    grantSender: (account, address) =>
      run(() => {
        const grant = parseSenderGrant(address);
        const row = accountRow(account);
        if (q.insertGrant.run(row.address, grant, clock.now()).changes === 0)
          throw new DirectoryError("exists", `${row.address} may already send as ${grant}`);
      }),

    revokeSender: (account, address) =>
      run(() => {
        const grant = parseSenderGrant(address);
        const row = accountRow(account);
        if (q.removeGrant.run(row.address, grant).changes === 0)
          throw new DirectoryError("not-found", `${row.address} has no grant for ${grant}`);
      }),

    senderGrants: (account) => run(() => q.listGrants.all(addressKey(account)).map((r) => r.address)),

    addUsage: (address, bytes) => usage(address, bytes, false),
    setUsage: (address, bytes) => usage(address, bytes, true),

    recordFlow: (address, direction, at) =>
      run(() => {
        const a = addressKey(address);
        const row = q.getAccount.get(a);
        const period = direction === "in" ? row?.in_flow_period : row?.out_flow_period;
        const keep = Math.max(MIN_FLOW_RETENTION_MS, (period ?? 0) * 1000);
        db.transaction(() => {
          q.recordFlow.run(a, direction, at);
          // Old events of this address go on each write, so one busy account stays small.
          q.pruneFlow.run(a, direction, at - keep);
        })();
        if (++recorded % SWEEP_EVERY === 0) {
          // Events of removed or quiet accounts, beyond any configured window.
          const longest = (q.longestPeriod.get()?.p ?? 0) * 1000;
          q.sweepFlow.run(at - Math.max(MIN_FLOW_RETENTION_MS, longest));
        }
      }),

    countFlow: (address: string, direction: FlowDirection, since: number) =>
      run(() => q.countFlow.get(addressKey(address), direction, since)?.n ?? 0),

    close: () =>
      run(() => {
        if (usageBatch.length > 0) flushUsage();
        if (db.open) db.close();
      }),
  };
  return dir;
}

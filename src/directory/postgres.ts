// The directory on PostgreSQL, for a cluster of machines: the same contract as the SQLite file
// (test/contracts/directory.ts runs on both), the same migrations by version. Writers on
// different machines race, so every check-then-write runs in a transaction that first takes an
// advisory lock on the address (an address is an account or an alias, never both, and the two
// live in different tables); the foreign keys back the domain checks up. Counters never lose an
// update: usage is one UPDATE ... GREATEST(0, used_bytes + n) per call, flow is one row per
// message. Usage calls of one event-loop turn share a transaction, and those transactions run
// one after another, so the calls apply in the order they were made (the clamp at zero depends
// on it). Every failure to reach the database rejects with StateUnavailableError, which the
// callers answer with a 4xx.
import type { Clock } from "../world/clock.js";
import { migratePg, openingOn } from "../state/pg-migrate.js";
import type { PgHandle, PgTx } from "../state/pg.js";
import {
  DirectoryError,
  type AccountSettings,
  type Alias,
  type Directory,
  type RecipientLookup,
} from "./directory.js";
import {
  addressKey,
  domainKey,
  normalizeDomain,
  parseMailboxAddress,
  parseSenderGrant,
  parseTargetAddress,
  splitAddress,
} from "./address.js";
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
import { DIRECTORY_MIGRATION_TABLE, MIGRATIONS } from "./migrations.js";
import { hashPassword, verifyPassword } from "./password.js";

const FK_VIOLATION = "23503";
const UNIQUE_VIOLATION = "23505";
const sqlCode = (e: unknown): unknown => (e as { code?: unknown }).code;

/** An account's settings as the parameters of INSERT and UPDATE, in the columns' order there. */
const settingsParams = (s: AccountSettings): unknown[] => {
  const c = settingsColumns(s);
  return [
    s.enabled,
    c.quota_bytes,
    c.max_message_size,
    c.out_flow_messages,
    c.out_flow_period,
    c.in_flow_messages,
    c.in_flow_period,
  ];
};

/** Applies the directory's pending migrations; returns the versions applied. */
export function migratePostgresDirectory(pg: PgHandle, clock: Clock): Promise<number[]> {
  return migratePg(pg, DIRECTORY_MIGRATION_TABLE, MIGRATIONS, "directory", clock.now());
}

/** Opens (and migrates) the directory on a pool; close() gives this share of the pool back. */
export async function openPostgresDirectory(pg: PgHandle, clock: Clock): Promise<Directory> {
  await openingOn(pg, () => migratePostgresDirectory(pg, clock));

  const lockAddress = (q: PgTx, address: string) =>
    q.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [`mailyard.address:${address}`]);
  const domainExists = async (q: PgTx, d: string): Promise<boolean> =>
    (await q.query("SELECT 1 FROM domains WHERE name = $1", [d])).length > 0;
  const requireDomain = async (q: PgTx, d: string): Promise<void> => {
    if (!(await domainExists(q, d)))
      throw new DirectoryError("not-found", `domain ${d} does not exist (add it first)`);
  };
  const requireFree = async (q: PgTx, address: string): Promise<void> => {
    if ((await q.query("SELECT 1 FROM accounts WHERE address = $1", [address])).length > 0)
      throw new DirectoryError("exists", `account ${address} already exists`);
    if ((await q.query("SELECT 1 FROM aliases WHERE address = $1", [address])).length > 0)
      throw new DirectoryError("exists", `alias ${address} already exists`);
  };
  const row = async (q: PgTx, address: string): Promise<AccountRow | undefined> =>
    (await q.query<AccountRow>("SELECT * FROM accounts WHERE address = $1", [address]))[0];
  const accountRow = async (q: PgTx, address: string): Promise<AccountRow> => {
    const r = await row(q, parseMailboxAddress(address).address);
    if (r === undefined) throw new DirectoryError("not-found", `no account ${addressKey(address)}`);
    return r;
  };
  // A domain removed by another writer between our check and our insert: the foreign key says so.
  const domainGone = (e: unknown, domain: string): never => {
    if (sqlCode(e) === FK_VIOLATION)
      throw new DirectoryError("not-found", `domain ${domain} does not exist (add it first)`);
    throw e;
  };
  const groupAliases = (rows: { alias: string; target: string }[]): Alias[] => {
    const out = new Map<string, string[]>();
    for (const r of rows) out.set(r.alias, [...(out.get(r.alias) ?? []), r.target]);
    return [...out].map(([address, targets]) => ({ address, targets }));
  };

  let recorded = 0;
  let closed = false;
  const open = (): void => {
    if (closed) throw new Error("directory is closed");
  };

  // Usage: one transaction per event-loop turn, one at a time (see the header).
  let usageBatch: { a: string; bytes: number; set: boolean; resolve(): void; reject(e: unknown): void }[] =
    [];
  let usageChain: Promise<void> = Promise.resolve();
  const flushUsage = (): Promise<void> => {
    const batch = usageBatch;
    usageBatch = [];
    if (batch.length === 0) return usageChain;
    usageChain = usageChain.then(async () => {
      let missing: boolean[];
      try {
        missing = await pg.tx(async (q) => {
          const out: boolean[] = [];
          for (const u of batch) {
            const n = await q.run(
              u.set
                ? "UPDATE accounts SET used_bytes = $1 WHERE address = $2"
                : "UPDATE accounts SET used_bytes = GREATEST(0, used_bytes + $1) WHERE address = $2",
              [u.bytes, u.a],
            );
            out.push(n === 0);
          }
          return out;
        });
      } catch (e) {
        for (const u of batch) u.reject(e);
        return;
      }
      batch.forEach((u, i) => {
        if (missing[i] === true) u.reject(new DirectoryError("not-found", `no account ${u.a}`));
        else u.resolve();
      });
    });
    return usageChain;
  };

  const usage = (address: string, bytes: number, set: boolean): Promise<void> => {
    if (closed) return Promise.reject(new Error("directory is closed"));
    if (!Number.isSafeInteger(bytes) || (set && bytes < 0))
      return Promise.reject(new DirectoryError("invalid", "usage must be an integer number of bytes"));
    const a = addressKey(address);
    return new Promise<void>((resolve, reject) => {
      if (usageBatch.push({ a, bytes, set, resolve, reject }) === 1) setImmediate(() => void flushUsage());
    });
  };

  const dir: Directory = {
    async addDomain(name) {
      open();
      const d = normalizeDomain(name);
      try {
        await pg.run("INSERT INTO domains (name, created_at) VALUES ($1, $2)", [d, clock.now()]);
      } catch (e) {
        if (sqlCode(e) === UNIQUE_VIOLATION) throw new DirectoryError("exists", `domain ${d} already exists`);
        throw e;
      }
    },

    async removeDomain(name) {
      open();
      const d = normalizeDomain(name);
      await pg.tx(async (q) => {
        await requireDomain(q, d);
        const [use] = await q.query<{ n: number }>(
          "SELECT (SELECT COUNT(*) FROM accounts WHERE domain = $1) + (SELECT COUNT(*) FROM aliases WHERE domain = $1) AS n",
          [d],
        );
        const n = use?.n ?? 0;
        if (n > 0) throw new DirectoryError("invalid", `domain ${d} still has ${n} account(s) or alias(es)`);
        try {
          await q.run("DELETE FROM domains WHERE name = $1", [d]);
        } catch (e) {
          // An account or alias added meanwhile on another machine.
          if (sqlCode(e) === FK_VIOLATION)
            throw new DirectoryError("invalid", `domain ${d} still has account(s) or alias(es)`);
          throw e;
        }
      });
    },

    async listDomains() {
      open();
      return (await pg.query<{ name: string }>("SELECT name FROM domains ORDER BY name")).map((r) => r.name);
    },

    async isLocalDomain(name) {
      open();
      const d = domainKey(name);
      return (await pg.query("SELECT 1 FROM domains WHERE name = $1", [d])).length > 0;
    },

    async addAccount(address, password, settings = {}) {
      open();
      const a = parseMailboxAddress(address);
      checkPassword(password);
      const s = merge(DEFAULT_SETTINGS, settings);
      checkSettings(s);
      // Cheap errors before the (deliberately slow) hash; checked again under the lock after it.
      await pg.tx(async (q) => {
        await requireDomain(q, a.domain);
        await requireFree(q, a.address);
      });
      const hash = await hashPassword(password);
      return pg.tx(async (q) => {
        await lockAddress(q, a.address);
        await requireDomain(q, a.domain);
        await requireFree(q, a.address);
        const rows = await q
          .query<AccountRow>(
            `INSERT INTO accounts (address, local_part, domain, password_hash, enabled, quota_bytes, max_message_size,
              out_flow_messages, out_flow_period, in_flow_messages, in_flow_period, used_bytes, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12) RETURNING *`,
            [a.address, a.localPart, a.domain, hash, ...settingsParams(s), clock.now()],
          )
          .catch((e: unknown) => domainGone(e, a.domain));
        return toAccount(rows[0]!);
      });
    },

    async removeAccount(address) {
      open();
      await pg.tx(async (q) => {
        const r = await accountRow(q, address);
        await q.run("DELETE FROM accounts WHERE address = $1", [r.address]);
        await q.run("DELETE FROM flow_events WHERE address = $1", [r.address]);
      });
    },

    async getAccount(address) {
      open();
      const r = await row(pg, addressKey(address));
      return r === undefined ? null : toAccount(r);
    },

    async credentialStamp(address) {
      open();
      const r = await row(pg, address.trim().toLowerCase());
      return r === undefined ? null : credentialStamp(r);
    },

    async listAccounts(domain) {
      open();
      const rows =
        domain === undefined
          ? await pg.query<AccountRow>("SELECT * FROM accounts ORDER BY domain, local_part")
          : await pg.query<AccountRow>("SELECT * FROM accounts WHERE domain = $1 ORDER BY local_part", [
              normalizeDomain(domain),
            ]);
      return rows.map(toAccount);
    },

    async updateAccount(address, patch) {
      open();
      const { password, ...rest } = patch;
      if (password !== undefined) checkPassword(password);
      const before = await accountRow(pg, address);
      // Validate the patch on what we read; the write below overlays it on the row as it is then.
      checkSettings(merge(toAccount(before), rest));
      const hash = password !== undefined ? await hashPassword(password) : null;
      return pg.tx(async (q) => {
        const current = (
          await q.query<AccountRow>("SELECT * FROM accounts WHERE address = $1 FOR UPDATE", [before.address])
        )[0];
        if (current === undefined) throw new DirectoryError("not-found", `no account ${before.address}`);
        const s = merge(toAccount(current), rest);
        checkSettings(s);
        const rows = await q.query<AccountRow>(
          `UPDATE accounts SET enabled = $2, quota_bytes = $3, max_message_size = $4,
            out_flow_messages = $5, out_flow_period = $6, in_flow_messages = $7, in_flow_period = $8,
            password_hash = COALESCE($9, password_hash)
           WHERE address = $1 RETURNING *`,
          [before.address, ...settingsParams(s), hash],
        );
        return toAccount(rows[0]!);
      });
    },

    async verifyPassword(address, password) {
      open();
      const r = await row(pg, addressKey(address));
      // Same work for an unknown user and for an over-long password (see the SQLite adapter).
      const tooLong = password.length > MAX_PASSWORD;
      const ok = await verifyPassword(
        password.slice(0, MAX_PASSWORD),
        tooLong ? null : (r?.password_hash ?? null),
      );
      return ok && r !== undefined ? toAccount(r) : null;
    },

    async addAlias(address, targets) {
      open();
      const a = parseMailboxAddress(address);
      const list = aliasTargets(a.address, targets, (t) => parseTargetAddress(t).address);
      await pg.tx(async (q) => {
        await lockAddress(q, a.address);
        await requireDomain(q, a.domain);
        await requireFree(q, a.address);
        await q
          .run("INSERT INTO aliases (address, local_part, domain, created_at) VALUES ($1, $2, $3, $4)", [
            a.address,
            a.localPart,
            a.domain,
            clock.now(),
          ])
          .catch((e: unknown) => domainGone(e, a.domain));
        await q.run(
          "INSERT INTO alias_targets (alias, position, target) SELECT $1, p - 1, t FROM unnest($2::text[]) WITH ORDINALITY AS x(t, p)",
          [a.address, list],
        );
      });
    },

    async removeAlias(address) {
      open();
      const a = parseMailboxAddress(address);
      if ((await pg.run("DELETE FROM aliases WHERE address = $1", [a.address])) === 0)
        throw new DirectoryError("not-found", `no alias ${a.address}`);
    },

    async listAliases(domain) {
      open();
      const rows =
        domain === undefined
          ? await pg.query<{ alias: string; target: string }>(
              `SELECT a.address AS alias, t.target FROM aliases a JOIN alias_targets t ON t.alias = a.address
               ORDER BY a.domain, a.local_part, t.position`,
            )
          : await pg.query<{ alias: string; target: string }>(
              `SELECT a.address AS alias, t.target FROM aliases a JOIN alias_targets t ON t.alias = a.address
               WHERE a.domain = $1 ORDER BY a.local_part, t.position`,
              [normalizeDomain(domain)],
            );
      return groupAliases(rows);
    },

    async lookup(address): Promise<RecipientLookup> {
      open();
      const { domain } = splitAddress(address);
      const a = addressKey(address);
      if (domain === "") return { kind: "remote" };
      // One round trip: the domain, the account, and the alias targets in order.
      const rows = await pg.query<{ kind: string; account: AccountRow | null; target: string | null }>(
        `SELECT 'account' AS kind, to_jsonb(acc) AS account, NULL AS target FROM accounts acc WHERE acc.address = $1
         UNION ALL
         SELECT 'alias', NULL, t.target FROM (SELECT target, position FROM alias_targets WHERE alias = $1 ORDER BY position) t
         UNION ALL
         SELECT 'domain', NULL, NULL FROM domains WHERE name = $2`,
        [a, domain],
      );
      if (!rows.some((r) => r.kind === "domain")) return { kind: "remote" };
      const acc = rows.find((r) => r.kind === "account")?.account;
      if (acc !== undefined && acc !== null) return { kind: "account", account: toAccount(acc) };
      const targets = rows.filter((r) => r.kind === "alias").map((r) => r.target!);
      if (targets.length > 0) return { kind: "alias", alias: { address: a, targets } };
      return { kind: "unknown" };
    },

    async grantSender(account, address) {
      open();
      const grant = parseSenderGrant(address);
      const r = await accountRow(pg, account);
      const n = await pg
        .run(
          "INSERT INTO sender_grants (account, address, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
          [r.address, grant, clock.now()],
        )
        .catch((e: unknown): never => {
          // The account removed by another writer meanwhile.
          if (sqlCode(e) === FK_VIOLATION) throw new DirectoryError("not-found", `no account ${r.address}`);
          throw e;
        });
      if (n === 0) throw new DirectoryError("exists", `${r.address} may already send as ${grant}`);
    },

    async revokeSender(account, address) {
      open();
      const grant = parseSenderGrant(address);
      const r = await accountRow(pg, account);
      const n = await pg.run("DELETE FROM sender_grants WHERE account = $1 AND address = $2", [
        r.address,
        grant,
      ]);
      if (n === 0) throw new DirectoryError("not-found", `${r.address} has no grant for ${grant}`);
    },

    async senderGrants(account) {
      open();
      const rows = await pg.query<{ address: string }>(
        'SELECT address FROM sender_grants WHERE account = $1 ORDER BY address COLLATE "C"',
        [addressKey(account)],
      );
      return rows.map((x) => x.address);
    },

    addUsage: (address, bytes) => usage(address, bytes, false),
    setUsage: (address, bytes) => usage(address, bytes, true),

    async recordFlow(address, direction, at) {
      open();
      const a = addressKey(address);
      const r = await row(pg, a);
      const period = direction === "in" ? r?.in_flow_period : r?.out_flow_period;
      const keep = Math.max(MIN_FLOW_RETENTION_MS, (period ?? 0) * 1000);
      await pg.tx(async (q) => {
        await q.run("INSERT INTO flow_events (address, direction, at) VALUES ($1, $2, $3)", [
          a,
          direction,
          at,
        ]);
        await q.run("DELETE FROM flow_events WHERE address = $1 AND direction = $2 AND at < $3", [
          a,
          direction,
          at - keep,
        ]);
      });
      if (++recorded % SWEEP_EVERY === 0) {
        const [p] = await pg.query<{ p: number | null }>(
          "SELECT GREATEST(MAX(COALESCE(in_flow_period, 0)), MAX(COALESCE(out_flow_period, 0))) AS p FROM accounts",
        );
        await pg.run("DELETE FROM flow_events WHERE at < $1", [
          at - Math.max(MIN_FLOW_RETENTION_MS, (p?.p ?? 0) * 1000),
        ]);
      }
    },

    async countFlow(address, direction, since) {
      open();
      const [r] = await pg.query<{ n: number }>(
        "SELECT COUNT(*) AS n FROM flow_events WHERE address = $1 AND direction = $2 AND at >= $3",
        [addressKey(address), direction, since],
      );
      return r?.n ?? 0;
    },

    async close() {
      if (closed) return;
      // Usage still waiting for its turn is written before the pool goes.
      await flushUsage();
      closed = true;
      await pg.close();
    },
  };
  return dir;
}

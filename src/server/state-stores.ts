// The one place that picks the state adapters from state.url (config/paths.ts stateLocation):
// the SQLite file, or PostgreSQL. Nodes, the CLI and `mailyard db migrate` open every store of
// the shared state here. On PostgreSQL every store shares one pool per process (state.poolSize
// connections), and opening runs the pending migrations (so does `db migrate`, ahead of a
// rollout). Adapters are loaded on demand: a node on PostgreSQL never loads the native SQLite module for them, nor
// a SQLite node the pg driver.
import { rpopKeyPath, stateLocation } from "../config/paths.js";
import type { Settings } from "../config/settings.js";
import type { ClusterState } from "../cluster/state.js";
import type { Directory } from "../directory/directory.js";
import type { Log } from "../log/logger.js";
import type { PgHandle } from "../state/pg.js";
import type { RuleStore } from "../rules/store.js";
import type { DkimKeyStore } from "../delivery/dkim/store.js";
import type { AdminStore } from "../admin/web/admin-store.js";
import type { RpopStore } from "../sources/rpop/store.js";
import type { ThrottleRows } from "../state/throttle.js";
import type { PasswordSeal } from "../sources/rpop/seal.js";
import type { Clock } from "../world/clock.js";

export interface StateStores {
  readonly directory: Directory;
  readonly state: ClusterState;
}

/** The schemas `mailyard db migrate` brings up to date, each versioned on its own. */
export const SCHEMAS = ["directory", "cluster", "rules", "rpop", "admin", "throttle", "dkim"] as const;
export type SchemaName = (typeof SCHEMAS)[number];

export interface SchemaState {
  /** Versions applied now (empty when already up to date), and the version it is at. */
  readonly applied: readonly number[];
  readonly version: number;
}

export type MigrationReport = {
  /** Where the state is (a file path, or the URL without its password). */
  readonly where: string;
} & { readonly [K in SchemaName]: SchemaState };

// One pool per state URL in a process, shared by every store that opens it (directory, cluster
// state, rules, admin...), so a node holds at most state.poolSize connections however many
// stores it has. Each opener gets its own reference; the pool closes when the last one does,
// and the next opener starts a new one.
const pools = new Map<string, PgHandle>();

async function openPool(settings: Settings, url: string, log?: Log): Promise<PgHandle> {
  const key = JSON.stringify([url, settings.state]);
  const shared = pools.get(key);
  if (shared !== undefined) {
    try {
      return shared.retain();
    } catch {
      pools.delete(key); // closed by its last owner
    }
  }
  const { openPg } = await import("../state/pg.js");
  const pg = openPg(url, {
    poolSize: settings.state.poolSize,
    connectTimeoutMs: settings.state.connectTimeoutSeconds * 1000,
    statementTimeoutMs: settings.state.statementTimeoutSeconds * 1000,
    ...(log !== undefined
      ? { onProblem: (text: string, fields: Record<string, string>) => log.problem(text, fields) }
      : {}),
  });
  pools.set(key, pg);
  return pg;
}

/**
 * A read-only command found no state where the settings point (a mistyped state.url or dataDir):
 * the CLI exits 2 naming the place, having created nothing.
 */
export class StateMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StateMissingError";
  }
}

type MigrationList = readonly [table: string, migrations: readonly { readonly version: number }[]];

/**
 * Each schema's table of applied versions (the same name on SQLite and PostgreSQL) and the
 * migrations this program has, loading only that schema's migration list (no adapter).
 */
const MIGRATION_LISTS: { readonly [K in SchemaName]: () => Promise<MigrationList> } = {
  directory: () =>
    import("../directory/migrations.js").then((m) => [m.DIRECTORY_MIGRATION_TABLE, m.MIGRATIONS]),
  cluster: () =>
    import("../cluster/migrations.js").then((m) => [m.CLUSTER_MIGRATION_TABLE, m.CLUSTER_MIGRATIONS]),
  rules: () => import("../rules/migrations.js").then((m) => [m.RULES_MIGRATION_TABLE, m.RULE_MIGRATIONS]),
  rpop: () =>
    import("../sources/rpop/migrations.js").then((m) => [m.RPOP_MIGRATION_TABLE, m.RPOP_MIGRATIONS]),
  admin: () =>
    import("../admin/web/users-migrations.js").then((m) => [m.ADMIN_MIGRATION_TABLE, m.ADMIN_MIGRATIONS]),
  throttle: () =>
    import("../state/throttle-migrations.js").then((m) => [
      m.THROTTLE_MIGRATION_TABLE,
      m.THROTTLE_MIGRATIONS,
    ]),
  dkim: () =>
    import("../delivery/dkim/migrations.js").then((m) => [m.DKIM_MIGRATION_TABLE, m.DKIM_MIGRATIONS]),
};

/**
 * For commands that only read: the state must already exist. The SQLite file is looked for
 * without opening it (opening creates it, and the stores create its directory); on PostgreSQL the
 * schema's version table must be there (no node or `db migrate` ever ran against a database
 * without it). Throws StateMissingError; creates nothing.
 */
export async function requireExistingState(settings: Settings, schema: SchemaName): Promise<void> {
  const where = stateLocation(settings);
  if (where.kind === "sqlite") {
    const { statSync } = await import("node:fs");
    const st = statSync(where.path, { throwIfNoEntry: false });
    if (st === undefined)
      throw new StateMissingError(
        `no state at ${where.path} (check state.url and dataDir; nothing was created)`,
      );
    if (!st.isFile()) throw new StateMissingError(`the state ${where.path} is not a file`);
    return;
  }
  const { pgSchemaVersion } = await import("../state/pg-migrate.js");
  const { redactUrl } = await import("../state/pg.js");
  const pg = await openPool(settings, where.url);
  try {
    let version: number;
    try {
      version = await pgSchemaVersion(pg, (await MIGRATION_LISTS[schema]())[0]);
    } catch (e) {
      // invalid_catalog_name: the database itself does not exist (nothing creates one).
      if ((e as { code?: unknown }).code === "3D000")
        throw new StateMissingError(`no state at ${redactUrl(where.url)}: the database does not exist`);
      throw e;
    }
    if (version === 0)
      throw new StateMissingError(
        `no ${schema} state in ${redactUrl(where.url)} (run mailyard db migrate, or start a node, first)`,
      );
  } finally {
    await pg.close();
  }
}

/** One store where the state is: on the SQLite file, or on this process's shared pool. */
async function openOn<T>(
  settings: Settings,
  log: Log | undefined,
  sqlite: (path: string) => Promise<T>,
  postgres: (pg: PgHandle) => Promise<T>,
): Promise<T> {
  const where = stateLocation(settings);
  return where.kind === "sqlite" ? sqlite(where.path) : postgres(await openPool(settings, where.url, log));
}

/** The directory alone (a single server, the CLI's directory commands). */
export async function openDirectoryStore(settings: Settings, clock: Clock, log?: Log): Promise<Directory> {
  return openOn(
    settings,
    log,
    async (path) => (await import("../directory/sqlite.js")).openSqliteDirectory(path, clock),
    async (pg) => (await import("../directory/postgres.js")).openPostgresDirectory(pg, clock),
  );
}

/** The cluster state alone (cluster commands). */
export async function openClusterStateStore(
  settings: Settings,
  clock: Clock,
  log?: Log,
): Promise<ClusterState> {
  return openOn(
    settings,
    log,
    async (path) => (await import("../cluster/sqlite-state.js")).openSqliteClusterState(path, clock),
    async (pg) => (await import("../cluster/pg-state.js")).openPostgresClusterState(pg, clock),
  );
}

/**
 * The rule store (src/rules/store.ts): on the SQLite file beside the directory, or on
 * PostgreSQL, so every member of a cluster reads the same rules and one reply memory.
 */
export async function openRuleStoreFor(settings: Settings, now: () => number, log?: Log): Promise<RuleStore> {
  return openOn(
    settings,
    log,
    async (path) =>
      (await import("../rules/sqlite-store.js")).openSqliteRuleStore(path, now, { nodeId: settings.node.id }),
    async (pg) => (await import("../rules/pg-store.js")).openPostgresRuleStore(pg, now, settings.node.id),
  );
}

/** The DKIM signing keys (src/delivery/dkim/): every frontend sharing the state signs with them. */
export async function openDkimStoreFor(
  settings: Settings,
  now: () => number,
  log?: Log,
): Promise<DkimKeyStore> {
  return openOn(
    settings,
    log,
    async (path) => (await import("../delivery/dkim/sqlite-store.js")).openSqliteDkimStore(path, now),
    async (pg) => (await import("../delivery/dkim/pg-store.js")).openPostgresDkimStore(pg, now),
  );
}

/**
 * The WebAdmin's administrators and sessions (src/admin/web/admin-store.ts): in the SQLite file
 * beside the directory, or on PostgreSQL, so every member sharing the state knows the same
 * administrators and a login on one member holds on all.
 */
export async function openAdminStoreFor(settings: Settings, clock: Clock, log?: Log): Promise<AdminStore> {
  return openOn(
    settings,
    log,
    async (path) => (await import("../admin/web/sqlite-admin-store.js")).openSqliteAdminStore(path, clock),
    async (pg) => (await import("../admin/web/pg-admin-store.js")).openPostgresAdminStore(pg, clock),
  );
}

/**
 * The RPOP store (src/sources/rpop/store.ts): on the SQLite file beside the directory, or on
 * PostgreSQL, so every member of a cluster sees the same entries, UIDL memory and poll claims.
 */
export async function openRpopStoreFor(settings: Settings, clock: Clock, log?: Log): Promise<RpopStore> {
  const seal = await rpopSealFor(settings);
  return openOn(
    settings,
    log,
    async (path) => (await import("../sources/rpop/sqlite-store.js")).openSqliteRpopStore(path, clock, seal),
    async (pg) => (await import("../sources/rpop/pg-store.js")).openPostgresRpopStore(pg, clock, seal),
  );
}

/** The seal of RPOP passwords, with the key of rpop.keyFile (made on first use). */
async function rpopSealFor(settings: Settings): Promise<PasswordSeal> {
  const { createPasswordSeal, loadOrCreateRpopKey } = await import("../sources/rpop/seal.js");
  return createPasswordSeal(await loadOrCreateRpopKey(rpopKeyPath(settings)));
}

/**
 * The login throttle's counts (src/state/throttle.ts): in the SQLite file beside the directory,
 * or on PostgreSQL, so a guesser spread over every member of a cluster meets one count.
 */
export async function openThrottleRowsFor(
  settings: Settings,
  clock: Clock,
  log?: Log,
): Promise<ThrottleRows> {
  return openOn(
    settings,
    log,
    async (path) => (await import("../state/sqlite-throttle.js")).openSqliteThrottleRows(path, clock),
    async (pg) => (await import("../state/pg-throttle.js")).openPostgresThrottleRows(pg, clock),
  );
}

/** Both, as a cluster member needs them; on PostgreSQL on one shared pool. */
export async function openStateStores(settings: Settings, clock: Clock, log?: Log): Promise<StateStores> {
  const where = stateLocation(settings);
  if (where.kind === "sqlite") {
    const directory = await openDirectoryStore(settings, clock, log);
    try {
      return { directory, state: await openClusterStateStore(settings, clock, log) };
    } catch (e) {
      await directory.close();
      throw e;
    }
  }
  const [{ openPostgresDirectory }, { openPostgresClusterState }] = await Promise.all([
    import("../directory/postgres.js"),
    import("../cluster/pg-state.js"),
  ]);
  const pg = await openPool(settings, where.url, log);
  try {
    // Each adapter holds its own reference and closes it; ours goes in finally.
    const directory = await openPostgresDirectory(pg.retain(), clock);
    try {
      return { directory, state: await openPostgresClusterState(pg.retain(), clock) };
    } catch (e) {
      await directory.close();
      throw e;
    }
  } finally {
    await pg.close();
  }
}

interface SchemaSpec {
  /** Opening the SQLite store migrates it (in an IMMEDIATE transaction). */
  readonly openSqlite: (path: string, clock: Clock) => { close(): Promise<void> };
  readonly migratePg: (pg: PgHandle, clock: Clock) => Promise<number[]>;
}

async function schemaSpecs(settings: Settings): Promise<Record<SchemaName, SchemaSpec>> {
  const [dirPg, clusterPg, rulesPg, rpopPg, adminPg, throttlePg, dkimPg] = await Promise.all([
    import("../directory/postgres.js"),
    import("../cluster/pg-state.js"),
    import("../rules/pg-store.js"),
    import("../sources/rpop/pg-store.js"),
    import("../admin/web/pg-admin-store.js"),
    import("../state/pg-throttle.js"),
    import("../delivery/dkim/pg-store.js"),
  ]);
  const [dirSqlite, clusterSqlite, ruleSqlite, rpopSqlite, adminSqlite, throttleSqlite, dkimSqlite] =
    await Promise.all([
      import("../directory/sqlite.js"),
      import("../cluster/sqlite-state.js"),
      import("../rules/sqlite-store.js"),
      import("../sources/rpop/sqlite-store.js"),
      import("../admin/web/sqlite-admin-store.js"),
      import("../state/sqlite-throttle.js"),
      import("../delivery/dkim/sqlite-store.js"),
    ]);
  const rpopSeal = await rpopSealFor(settings);
  return {
    directory: { openSqlite: dirSqlite.openSqliteDirectory, migratePg: dirPg.migratePostgresDirectory },
    cluster: {
      openSqlite: clusterSqlite.openSqliteClusterState,
      migratePg: clusterPg.migratePostgresClusterState,
    },
    rules: {
      openSqlite: (path, clock) =>
        ruleSqlite.openSqliteRuleStore(path, () => clock.now(), { nodeId: settings.node.id }),
      migratePg: (pg, clock) => rulesPg.migratePostgresRules(pg, clock.now()),
    },
    rpop: {
      // Opening it also seals passwords a version before sealing stored in clear.
      openSqlite: (path, clock) => rpopSqlite.openSqliteRpopStore(path, clock, rpopSeal),
      migratePg: (pg, clock) => rpopPg.migratePostgresRpop(pg, clock.now()),
    },
    admin: { openSqlite: adminSqlite.openSqliteAdminStore, migratePg: adminPg.migratePostgresAdmin },
    throttle: {
      openSqlite: throttleSqlite.openSqliteThrottleRows,
      migratePg: throttlePg.migratePostgresThrottle,
    },
    dkim: {
      openSqlite: (path, clock) => dkimSqlite.openSqliteDkimStore(path, () => clock.now()),
      migratePg: (pg, clock) => dkimPg.migratePostgresDkim(pg, clock.now()),
    },
  };
}

/** `mailyard db migrate`: bring every schema up to date and say where each one is. */
export async function migrateState(settings: Settings, clock: Clock): Promise<MigrationReport> {
  const where = stateLocation(settings);
  const specs = await schemaSpecs(settings);
  const report: Partial<Record<SchemaName, SchemaState>> = {};
  if (where.kind === "sqlite") {
    const Database = (await import("better-sqlite3")).default;
    const { existsSync } = await import("node:fs");
    const version = (table: string): number => {
      if (!existsSync(where.path)) return 0;
      const db = new Database(where.path, { readonly: true, fileMustExist: true });
      try {
        const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
        if (exists === undefined) return 0;
        return (db.prepare(`SELECT MAX(version) AS v FROM ${table}`).get() as { v: number | null }).v ?? 0;
      } finally {
        db.close();
      }
    };
    for (const name of SCHEMAS) {
      const [table, migrations] = await MIGRATION_LISTS[name]();
      const before = version(table);
      await specs[name].openSqlite(where.path, clock).close();
      report[name] = {
        applied: migrations.map((m) => m.version).filter((v) => v > before),
        version: version(table),
      };
    }
    return { where: where.path, ...(report as Record<SchemaName, SchemaState>) };
  }
  const { pgSchemaVersion } = await import("../state/pg-migrate.js");
  const { redactUrl } = await import("../state/pg.js");
  const pg = await openPool(settings, where.url);
  try {
    for (const name of SCHEMAS) {
      const [table] = await MIGRATION_LISTS[name]();
      const applied = await specs[name].migratePg(pg, clock);
      report[name] = { applied, version: await pgSchemaVersion(pg, table) };
    }
    return { where: redactUrl(where.url), ...(report as Record<SchemaName, SchemaState>) };
  } finally {
    await pg.close();
  }
}

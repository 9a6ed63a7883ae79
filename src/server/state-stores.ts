// The one place that picks the state adapters from state.url (config/paths.ts stateLocation):
// the SQLite file, or PostgreSQL. Nodes, the CLI and `mailyard db migrate` open the directory
// and the cluster state here. On PostgreSQL both share one pool (state.poolSize connections),
// and opening runs the pending migrations (so does `db migrate`, ahead of a rollout). Adapters
// are loaded on demand: a node on PostgreSQL never loads the native SQLite module for them, nor
// a SQLite node the pg driver.
import { stateLocation } from "../config/paths.js";
import type { Settings } from "../config/settings.js";
import type { ClusterState } from "../cluster/state.js";
import type { Directory } from "../directory/directory.js";
import type { Log } from "../log/logger.js";
import type { PgHandle } from "../state/pg.js";
import type { RuleStore } from "../rules/store.js";
import type { RpopStore } from "../sources/rpop/store.js";
import type { Clock } from "../world/clock.js";

export interface StateStores {
  readonly directory: Directory;
  readonly state: ClusterState;
}

export interface MigrationReport {
  /** Where the state is (a file path, or the URL without its password). */
  readonly where: string;
  /** Versions applied now (empty when already up to date), and the version each is at. */
  readonly directory: { readonly applied: readonly number[]; readonly version: number };
  readonly cluster: { readonly applied: readonly number[]; readonly version: number };
}

async function openPool(settings: Settings, url: string, log?: Log): Promise<PgHandle> {
  const { openPg } = await import("../state/pg.js");
  return openPg(url, {
    poolSize: settings.state.poolSize,
    connectTimeoutMs: settings.state.connectTimeoutSeconds * 1000,
    statementTimeoutMs: settings.state.statementTimeoutSeconds * 1000,
    ...(log !== undefined
      ? { onProblem: (text: string, fields: Record<string, string>) => log.problem(text, fields) }
      : {}),
  });
}

/** The directory alone (a single server, the CLI's directory commands). */
export async function openDirectoryStore(settings: Settings, clock: Clock, log?: Log): Promise<Directory> {
  const where = stateLocation(settings);
  if (where.kind === "sqlite") {
    const { openSqliteDirectory } = await import("../directory/sqlite.js");
    return openSqliteDirectory(where.path, clock);
  }
  const { openPostgresDirectory } = await import("../directory/postgres.js");
  return openPostgresDirectory(await openPool(settings, where.url, log), clock);
}

/** The cluster state alone (cluster commands). */
export async function openClusterStateStore(
  settings: Settings,
  clock: Clock,
  log?: Log,
): Promise<ClusterState> {
  const where = stateLocation(settings);
  if (where.kind === "sqlite") {
    const { openSqliteClusterState } = await import("../cluster/sqlite-state.js");
    return openSqliteClusterState(where.path, clock);
  }
  const { openPostgresClusterState } = await import("../cluster/pg-state.js");
  return openPostgresClusterState(await openPool(settings, where.url, log), clock);
}

/**
 * The rule store (src/rules/store.ts): on the SQLite file beside the directory, or on
 * PostgreSQL, so every member of a cluster reads the same rules and one reply memory.
 */
export async function openRuleStoreFor(settings: Settings, now: () => number, log?: Log): Promise<RuleStore> {
  const where = stateLocation(settings);
  if (where.kind === "sqlite") {
    const { openSqliteRuleStore } = await import("../rules/sqlite-store.js");
    return openSqliteRuleStore(where.path, now);
  }
  const { openPostgresRuleStore } = await import("../rules/pg-store.js");
  return openPostgresRuleStore(await openPool(settings, where.url, log), now);
}

/**
 * The RPOP store (src/sources/rpop/store.ts): on the SQLite file beside the directory, or on
 * PostgreSQL, so every member of a cluster sees the same entries, UIDL memory and poll claims.
 */
export async function openRpopStoreFor(settings: Settings, clock: Clock, log?: Log): Promise<RpopStore> {
  const where = stateLocation(settings);
  if (where.kind === "sqlite") {
    const { openSqliteRpopStore } = await import("../sources/rpop/sqlite-store.js");
    return openSqliteRpopStore(where.path, clock);
  }
  const { openPostgresRpopStore } = await import("../sources/rpop/pg-store.js");
  return openPostgresRpopStore(await openPool(settings, where.url, log), clock);
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

/** `mailyard db migrate`: bring both schemas up to date and say where they are. */
export async function migrateState(settings: Settings, clock: Clock): Promise<MigrationReport> {
  const where = stateLocation(settings);
  if (where.kind === "sqlite") {
    // Opening a SQLite store migrates it (in an IMMEDIATE transaction); report the versions.
    const [{ MIGRATIONS }, { CLUSTER_MIGRATIONS }] = await Promise.all([
      import("../directory/migrations.js"),
      import("../cluster/migrations.js"),
    ]);
    const Database = (await import("better-sqlite3")).default;
    const version = (table: string): number => {
      const db = new Database(where.path, { readonly: true, fileMustExist: true });
      try {
        const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
        if (exists === undefined) return 0;
        return (db.prepare(`SELECT MAX(version) AS v FROM ${table}`).get() as { v: number | null }).v ?? 0;
      } finally {
        db.close();
      }
    };
    const { existsSync } = await import("node:fs");
    const before = existsSync(where.path)
      ? { d: version("schema_migrations"), c: version("cluster_migrations") }
      : { d: 0, c: 0 };
    const stores = await openStateStores(settings, clock);
    await stores.state.close();
    await stores.directory.close();
    const after = { d: version("schema_migrations"), c: version("cluster_migrations") };
    const applied = (from: number, list: readonly { version: number }[]) =>
      list.map((m) => m.version).filter((v) => v > from);
    return {
      where: where.path,
      directory: { applied: applied(before.d, MIGRATIONS), version: after.d },
      cluster: { applied: applied(before.c, CLUSTER_MIGRATIONS), version: after.c },
    };
  }
  const [
    { migratePostgresDirectory, DIRECTORY_MIGRATION_TABLE },
    { migratePostgresClusterState, CLUSTER_MIGRATION_TABLE },
  ] = await Promise.all([import("../directory/postgres.js"), import("../cluster/pg-state.js")]);
  const { pgSchemaVersion } = await import("../state/pg-migrate.js");
  const { redactUrl } = await import("../state/pg.js");
  const pg = await openPool(settings, where.url);
  try {
    const d = await migratePostgresDirectory(pg, clock);
    const c = await migratePostgresClusterState(pg, clock);
    return {
      where: redactUrl(where.url),
      directory: { applied: d, version: await pgSchemaVersion(pg, DIRECTORY_MIGRATION_TABLE) },
      cluster: { applied: c, version: await pgSchemaVersion(pg, CLUSTER_MIGRATION_TABLE) },
    };
  } finally {
    await pg.close();
  }
}

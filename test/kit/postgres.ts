// PostgreSQL for tests. The machine's server (scripts/test-peers.sh installs and starts it when
// missing; MAILYARD_TEST_PG_URL points elsewhere) gets one fresh database per test, with a unique
// name, dropped in t.after. A test that must restart the server (never the shared one: other
// people use it) starts a private instance instead: initdb into a temp dir as the postgres user,
// pg_ctl start on a free port on 127.0.0.1, stopped and removed in t.after.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chown, mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);
type After = { after(fn: () => Promise<void>): void };

/** A maintenance database on the shared server, for CREATE/DROP DATABASE. */
export const adminUrl = (): string =>
  process.env["MAILYARD_TEST_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

async function admin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A new empty database on the server at `server` (default: the shared one); dropped after. */
export async function freshDatabase(t: After, server = adminUrl()): Promise<string> {
  const name = `mailyard_t_${process.pid}_${randomBytes(6).toString("hex")}`;
  await admin(server, (c) => c.query(`CREATE DATABASE ${name}`));
  t.after(async () => {
    // FORCE: a node killed with SIGKILL may leave a connection the server has not noticed yet.
    await admin(server, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(
      () => undefined,
    );
  });
  return withDatabase(server, name);
}

/** A port the OS says is free now (closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      s.close(() =>
        typeof address === "object" && address !== null
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

async function pgBinDir(): Promise<string> {
  const root = "/usr/lib/postgresql";
  const versions = (await readdir(root).catch(() => []))
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  if (versions[0] === undefined)
    throw new Error(`no PostgreSQL under ${root} (scripts/test-peers.sh installs it)`);
  return join(root, versions[0], "bin");
}

export interface PrivatePostgres {
  readonly port: number;
  /** URL of its postgres database (for freshDatabase). */
  readonly url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** pg_ctl restart -m fast: every connection is cut, the server is back when this resolves. */
  restart(): Promise<void>;
}

/** A PostgreSQL server of our own, for tests that stop or restart it. */
export async function startPrivatePostgres(t: After): Promise<PrivatePostgres> {
  const bin = await pgBinDir();
  const root = await mkdtemp(join(tmpdir(), "mailyard-pg-"));
  const data = join(root, "data");
  const port = await freePort();
  // initdb and postgres refuse to run as root: as root, run them as the postgres user.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    await chown(root, Number(stdout.trim()), Number(gid.trim()));
  }
  const pgRun = (cmd: string, args: string[]) =>
    asRoot ? run("runuser", ["-u", "postgres", "--", join(bin, cmd), ...args]) : run(join(bin, cmd), args);
  await pgRun("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
  const opts = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  const ctl = (action: string, extra: string[] = []) =>
    pgRun("pg_ctl", [action, "-D", data, "-w", "-t", "30", "-l", join(root, "server.log"), ...extra]);
  const start = async () => void (await ctl("start", ["-o", opts]));
  await start();
  t.after(async () => {
    await ctl("stop", ["-m", "immediate"]).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  });
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop: async () => void (await ctl("stop", ["-m", "fast"])),
    restart: async () => void (await ctl("restart", ["-m", "fast", "-o", opts])),
  };
}

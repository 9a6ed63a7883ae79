// One PostgreSQL connection pool for the shared state (directory and cluster state share it, so
// a node holds at most poolSize connections plus one for LISTEN). What it adds to `pg`:
//
// - Bounded everything: poolSize connections, a connect timeout, a statement timeout on the
//   server and a slightly longer query timeout on the client (a server that vanished without a
//   reset must not hold a caller forever).
// - Back-off: after a connection-level failure every call fails at once for a while (100 ms,
//   doubling to 5 s) instead of each caller dialling a dead server; the first call after the
//   pause is the probe. Callers see StateUnavailableError and answer 4xx (they already treat a
//   state error as temporary).
// - Transactions with a retry on serialization failure and deadlock (40001, 40P01), the only
//   errors a repeated transaction can cure.
// - LISTEN on one dedicated connection that reconnects with the same back-off; after a
//   (re)connect every listener is told (payload null) that it is listening now and may have
//   missed notifications before: the moment to re-read.
// - A reference count, so the directory and the cluster state each close() their share and the
//   pool ends with the last one.
//
// Back-off and reconnect timers use the real clock on purpose: they are about the network, and a
// test's fake clock (which drives leases and heartbeats) must not freeze reconnection.
import pg from "pg";

export interface PgOptions {
  /** Most connections in the pool. */
  readonly poolSize: number;
  readonly connectTimeoutMs: number;
  /** Longest statement the server runs for us (statement_timeout). */
  readonly statementTimeoutMs: number;
  /** Connection trouble worth an operator's eye (lost idle connection, LISTEN reconnects). */
  readonly onProblem?: (text: string, fields: Readonly<Record<string, string>>) => void;
}

export const DEFAULT_PG_OPTIONS: PgOptions = {
  poolSize: 10,
  connectTimeoutMs: 5000,
  statementTimeoutMs: 10_000,
};

/** The database cannot be reached now (or is paused after a failure); a temporary condition. */
export class StateUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StateUnavailableError";
  }
}

/** What a transaction body may do: queries on the transaction's own connection. */
export interface PgTx {
  query<R extends pg.QueryResultRow = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<R[]>;
  run(text: string, values?: unknown[]): Promise<number>;
}

export interface PgHandle extends PgTx {
  /** BEGIN, fn, COMMIT (ROLLBACK on a throw); retried on serialization failure or deadlock. */
  tx<T>(fn: (q: PgTx) => Promise<T>): Promise<T>;
  /**
   * Notifications on a channel. payload null once the LISTEN is in place (first connect and
   * every reconnect): from then on nothing is missed, before it something may have been.
   */
  listen(channel: string, fn: (payload: string | null) => void): () => void;
  /** One more owner of this pool: each owner calls close() once. */
  retain(): PgHandle;
  close(): Promise<void>;
}

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5000;
const TX_ATTEMPTS = 4;
const INT8_OID = 20;

// Connection-level trouble (as opposed to a bad statement): refused, reset, timed out, the server
// shutting down (57P01-03), or SQLSTATE class 08 (connection exception).
export function isConnectionError(e: unknown): boolean {
  if (e instanceof StateUnavailableError) return true;
  const err = e as { code?: unknown; message?: unknown };
  const code = typeof err.code === "string" ? err.code : "";
  if (/^(ECONN|EPIPE|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)/.test(code)) return true;
  if (code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03") return true;
  const message = typeof err.message === "string" ? err.message : "";
  return /Connection terminated|connection timeout|timeout expired|Query read timeout|not queryable|Client was closed/i.test(
    message,
  );
}

const retryable = (e: unknown): boolean => {
  const code = (e as { code?: unknown }).code;
  return code === "40001" || code === "40P01";
};

/** The URL without its password, for logs and error messages. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@]*@/i, "$1:***@");
}

export function openPg(url: string, o: PgOptions = DEFAULT_PG_OPTIONS): PgHandle {
  if (!(Number.isSafeInteger(o.poolSize) && o.poolSize > 0)) throw new RangeError("poolSize must be > 0");
  const problem = o.onProblem ?? (() => undefined);
  // Times and tokens are BIGINT; every value we store fits a double exactly (< 2^53).
  const textParser = (oid: number): ((v: string) => unknown) =>
    pg.types.getTypeParser(oid, "text") as (v: string) => unknown;
  const types = {
    getTypeParser: ((oid: number) =>
      oid === INT8_OID ? (v: string) => Number(v) : textParser(oid)) as never,
  };
  const config: pg.PoolConfig = {
    connectionString: url,
    max: o.poolSize,
    connectionTimeoutMillis: o.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    statement_timeout: o.statementTimeoutMs,
    query_timeout: o.statementTimeoutMs + 2000,
    keepAlive: true,
    application_name: "mailyard",
    types,
  };
  const pool = new pg.Pool(config);
  // An idle connection dropped by the server (restart, failover) is reported here; without a
  // listener it would crash the process.
  pool.on("error", (e) => problem("state database connection lost", { error: e.message }));
  // A connection that breaks while checked out emits "error" on its client, where the pool has
  // no listener then: unhandled, it would end the process. The query under way fails with the
  // same error (and the next one with "not queryable"), which is where it is handled.
  pool.on("connect", (client) => client.on("error", () => undefined));

  let refs = 1;
  let closed = false;
  let pausedUntil = 0;
  let backoff = 0;
  let lastError = "";

  const gate = (): void => {
    if (closed) throw new Error("state database pool is closed");
    if (performance.now() < pausedUntil)
      throw new StateUnavailableError(`state database unavailable: ${lastError}`);
  };
  const failed = (e: unknown): void => {
    if (!isConnectionError(e) || e instanceof StateUnavailableError) return;
    backoff = backoff === 0 ? MIN_BACKOFF_MS : Math.min(backoff * 2, MAX_BACKOFF_MS);
    pausedUntil = performance.now() + backoff;
    lastError = e instanceof Error ? e.message : String(e);
  };
  const succeeded = (): void => {
    backoff = 0;
    pausedUntil = 0;
  };
  const wrap = (e: unknown): Error => {
    if (e instanceof StateUnavailableError) return e;
    if (isConnectionError(e))
      return new StateUnavailableError(`state database unavailable: ${(e as Error).message}`, { cause: e });
    return e instanceof Error ? e : new Error(String(e));
  };

  const onPool = async <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => {
    gate();
    try {
      const r = await pool.query<R>(text, values);
      succeeded();
      return r;
    } catch (e) {
      failed(e);
      throw wrap(e);
    }
  };

  const tx = async <T>(fn: (q: PgTx) => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      gate();
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (e) {
        failed(e);
        throw wrap(e);
      }
      let broken: Error | undefined;
      try {
        await client.query("BEGIN");
        const q: PgTx = {
          query: async <R extends pg.QueryResultRow>(text: string, values?: unknown[]) =>
            (await client.query<R>(text, values)).rows,
          run: async (text, values) => (await client.query(text, values)).rowCount ?? 0,
        };
        const result = await fn(q);
        await client.query("COMMIT");
        succeeded();
        return result;
      } catch (e) {
        if (isConnectionError(e)) broken = e instanceof Error ? e : new Error(String(e));
        else await client.query("ROLLBACK").catch((r: unknown) => (broken = r as Error));
        failed(e);
        if (broken === undefined && retryable(e) && attempt < TX_ATTEMPTS) continue;
        throw wrap(e);
      } finally {
        // A broken connection is destroyed, not handed to the next caller.
        client.release(broken);
      }
    }
  };

  // LISTEN: one dedicated client, connected on the first listen() and kept up until close.
  const listeners = new Map<string, Set<(payload: string | null) => void>>();
  let client: pg.Client | null = null;
  let connecting: Promise<void> | null = null;
  let reconnectTimer: NodeJS.Timeout | null = null;
  let listenBackoff = 0;

  const dispatch = (channel: string, payload: string | null): void => {
    for (const fn of listeners.get(channel) ?? []) {
      try {
        fn(payload);
      } catch (e) {
        problem("state change listener failed", { channel, error: String(e) });
      }
    }
  };

  const scheduleReconnect = (): void => {
    if (closed || reconnectTimer !== null || listeners.size === 0) return;
    listenBackoff = listenBackoff === 0 ? MIN_BACKOFF_MS * 2 : Math.min(listenBackoff * 2, MAX_BACKOFF_MS);
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null;
      void connectListener();
    }, listenBackoff);
    reconnectTimer.unref();
  };

  const connectListener = (): Promise<void> => {
    connecting ??= (async () => {
      const c = new pg.Client({
        connectionString: url,
        connectionTimeoutMillis: o.connectTimeoutMs,
        keepAlive: true,
        application_name: "mailyard-listen",
      });
      let gone = false;
      const lost = (why: string): void => {
        if (gone) return;
        gone = true;
        if (client === c) client = null;
        c.removeAllListeners("notification");
        void c.end().catch(() => undefined);
        if (!closed) {
          problem("state change notifications interrupted, reconnecting", { error: why });
          scheduleReconnect();
        }
      };
      c.on("error", (e) => lost(e.message));
      c.on("end", () => lost("connection ended"));
      c.on("notification", (n) => dispatch(n.channel, n.payload ?? ""));
      try {
        await c.connect();
        for (const channel of listeners.keys()) await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      } catch (e) {
        lost(e instanceof Error ? e.message : String(e));
        return;
      }
      if (closed) {
        gone = true;
        await c.end().catch(() => undefined);
        return;
      }
      client = c;
      listenBackoff = 0;
      // What changed before we were listening is unknown: everyone re-reads.
      for (const channel of listeners.keys()) dispatch(channel, null);
    })().finally(() => {
      connecting = null;
    });
    return connecting;
  };

  const handle: PgHandle = {
    query: async <R extends pg.QueryResultRow>(text: string, values?: unknown[]) =>
      (await onPool<R>(text, values)).rows,
    run: async (text, values) => (await onPool(text, values)).rowCount ?? 0,
    tx,
    listen(channel, fn) {
      if (closed) throw new Error("state database pool is closed");
      let set = listeners.get(channel);
      const fresh = set === undefined;
      if (set === undefined) {
        set = new Set();
        listeners.set(channel, set);
      }
      set.add(fn);
      const c = client;
      const ready = (): void => {
        if (set.has(fn)) fn(null);
      };
      if (c !== null && !fresh) queueMicrotask(ready);
      else if (c !== null)
        c.query(`LISTEN ${pg.escapeIdentifier(channel)}`).then(ready, (e: unknown) =>
          problem("LISTEN failed", { channel, error: String(e) }),
        );
      // Otherwise the connection being made (or about to be retried) tells everyone.
      else if (connecting === null && reconnectTimer === null) void connectListener();
      return () => {
        set.delete(fn);
      };
    },
    retain() {
      if (closed) throw new Error("state database pool is closed");
      refs++;
      return handle;
    },
    async close() {
      if (closed || --refs > 0) return;
      closed = true;
      if (reconnectTimer !== null) clearTimeout(reconnectTimer);
      listeners.clear();
      await (connecting ?? Promise.resolve());
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
      await pool.end();
    },
  };
  return handle;
}

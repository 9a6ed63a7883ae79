// The frontend's directory: the inbound policy's questions asked of live backends over the
// cluster API, with brief answer caching. Invariants:
// - Fail closed: when no backend gives an authenticated, well-formed answer the call throws
//   ClusterUnavailableError, which the inbound policy turns into a 4xx; nothing is guessed.
// - A backend's reply is believed only with a valid reply proof and a valid shape; a bad one
//   counts as that backend failing and the next is tried.
// - A DirectoryError from a backend is an answer, not a failure: it is rethrown, not retried.
// - Caches are bounded (LRU) with a lifetime; "no such thing" answers live negativeCacheMs.
//   Password checks are cached under a keyed hash of user, password and the account's credential
//   stamp read from the shared directory at each check (the key is random per process), never
//   the password: a changed password, a disabled or removed account is a new key at once, on
//   every frontend, with no cache lifetime to wait out. Without a stamp source they are not
//   cached. Sender grants are cached per account like lookups. Flow counts and records are never
//   cached.
import http from "node:http";
import https from "node:https";
import { createHmac, randomBytes } from "node:crypto";
import type { z } from "zod";
import {
  DirectoryError,
  type Account,
  type FlowDirection,
  type RecipientLookup,
} from "../../directory/directory.js";
import type { Log } from "../../log/logger.js";
import type { Clock } from "../../world/clock.js";
import { checkSecret } from "../secret.js";
import { checkReply, signRequest, validNodeId } from "./auth.js";
import { readBounded } from "../../world/bounded-body.js";
import { AnswerCache } from "./cache.js";
import { memberHttpsOptions } from "../tls/http-side.js";
import type { MemberTls } from "../tls/member-tls.js";
import {
  accountReply,
  countFlowReply,
  directoryErrorReply,
  lookupReply,
  recordFlowReply,
  senderGrantsReply,
} from "./schemas.js";
import {
  ClusterUnavailableError,
  HEADERS,
  MAX_ADDRESS,
  MAX_PASSWORD,
  MAX_REPLY_BODY,
  PATHS,
  type InboundDirectory,
} from "./types.js";

export interface ApiBackend {
  readonly id: string;
  /** Where its cluster API listens: "http://host:port" or "host:port". */
  readonly http: string;
}

export interface ClusterDirectoryOptions {
  /** The live backends now, in a stable order (asked on every call). */
  readonly backends: () => readonly ApiBackend[];
  readonly secret: string;
  /** This node's id, sent with (and covered by) every request's proof. */
  readonly nodeId: string;
  readonly clock: Clock;
  /** One request to one backend, connect to last byte of the reply. */
  readonly timeoutMs: number;
  /** Lifetime of a positive answer (an account, an alias, a right password); 0 = no caching. */
  readonly cacheMs: number;
  /** Lifetime of a negative answer (unknown, not local, no account, wrong password). */
  readonly negativeCacheMs: number;
  /** Entries per cache (lookups, accounts, password checks each). */
  readonly maxEntries: number;
  /**
   * The account's credential stamp from the shared state (Directory.credentialStamp): password
   * checks are cached under it. Absent: password checks are never cached.
   */
  readonly credentialStamp?: (address: string) => Promise<string | null>;
  /** Tag CLUSTER. */
  readonly log: Log;
  /** Cluster TLS: every request over it, to a backend proving its node id. */
  readonly memberTls?: MemberTls | null;
}

export interface ClusterDirectory extends InboundDirectory {
  /** Forget every cached answer. */
  clearCache(): void;
  /** Close idle keep-alive connections and forget cached answers. */
  close(): void;
}

/** A failed attempt; `stale` when a reused keep-alive socket was closed under us (retry once). */
class AttemptError extends Error {
  constructor(
    message: string,
    readonly stale: boolean,
  ) {
    super(message);
  }
}

interface RawReply {
  readonly status: number;
  readonly proof: string | undefined;
  readonly body: Buffer;
  readonly requestProof: string;
}

function hostPort(address: string): { host: string; port: number } | null {
  try {
    const u = new URL(address.includes("://") ? address : `http://${address}`);
    if (u.protocol !== "http:" || u.hostname === "") return null;
    return { host: u.hostname.replace(/^\[(.*)\]$/, "$1"), port: u.port === "" ? 80 : Number(u.port) };
  } catch {
    return null;
  }
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const norm = (address: string): string => address.trim().toLowerCase();
const badAddress = (address: string): boolean => address.length === 0 || address.length > MAX_ADDRESS;

export function createClusterDirectory(o: ClusterDirectoryOptions): ClusterDirectory {
  const weak = checkSecret(o.secret);
  if (weak !== null) throw new Error(weak);
  if (!validNodeId(o.nodeId))
    throw new Error(`node id ${JSON.stringify(o.nodeId)} cannot be sent in a header`);
  const { clock, log } = o;
  const memberTls = o.memberTls ?? null;
  const agent =
    memberTls === null
      ? new http.Agent({ keepAlive: true, maxSockets: 64 })
      : new https.Agent({ keepAlive: true, maxSockets: 64 });
  let turn = 0;

  const lookups = new AnswerCache<RecipientLookup>(clock, o.maxEntries);
  const accounts = new AnswerCache<Account | null>(clock, o.maxEntries);
  const passwords = new AnswerCache<Account | null>(clock, o.maxEntries);
  const grants = new AnswerCache<readonly string[]>(clock, o.maxEntries);
  const passwordKey = randomBytes(32);
  const inflight = new Map<string, Promise<unknown>>();

  const send = (
    to: string,
    where: { host: string; port: number },
    path: string,
    text: string,
  ): Promise<RawReply> =>
    new Promise((resolve, reject) => {
      const signed = signRequest(o.secret, o.nodeId, to, "POST", path, clock.now(), text);
      const requestProof = signed[HEADERS.proof] ?? "";
      const headers = {
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(text)),
        ...signed,
      };
      const req =
        memberTls === null
          ? http.request({ host: where.host, port: where.port, method: "POST", path, headers, agent })
          : https.request({
              ...memberHttpsOptions(memberTls, to),
              host: where.host,
              port: where.port,
              method: "POST",
              path,
              headers,
              agent,
            });
      const timer = clock.setTimeout(
        () => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)),
        o.timeoutMs,
      );
      const fail = (e: unknown): void => {
        timer.cancel();
        const code = (e as NodeJS.ErrnoException).code;
        reject(new AttemptError(errorText(e), req.reusedSocket && code === "ECONNRESET"));
      };
      req.once("error", fail);
      req.once("response", (res) => {
        readBounded(res, MAX_REPLY_BODY).then((body) => {
          timer.cancel();
          if (body === "too-large") {
            req.destroy();
            reject(new AttemptError("reply too large", false));
            return;
          }
          const proof = res.headers[HEADERS.proof];
          resolve({
            status: res.statusCode ?? 0,
            proof: typeof proof === "string" ? proof : undefined,
            body,
            requestProof,
          });
        }, fail);
      });
      req.end(text);
    });

  /** The backend's answer; throws AttemptError when this backend did not give one. */
  const ask = async <T>(b: ApiBackend, path: string, text: string, schema: z.ZodType<T>): Promise<T> => {
    const where = hostPort(b.http);
    if (where === null) throw new AttemptError(`unusable address ${JSON.stringify(b.http)}`, false);
    let r: RawReply;
    try {
      r = await send(b.id, where, path, text);
    } catch (e) {
      if (!(e instanceof AttemptError && e.stale)) throw e;
      r = await send(b.id, where, path, text);
    }
    if (r.status === 401) {
      log.problem("cluster api backend refused our proof (is cluster.secret the same?)", {
        backend: b.id,
        path,
      });
      throw new AttemptError("authentication refused", false);
    }
    if (!checkReply(o.secret, r.proof, r.status, r.requestProof, r.body)) {
      log.problem("cluster api reply not authenticated", { backend: b.id, path, status: r.status });
      throw new AttemptError("reply not authenticated", false);
    }
    let json: unknown;
    try {
      json = JSON.parse(r.body.toString("utf8"));
    } catch {
      throw new AttemptError("reply is not JSON", false);
    }
    if (r.status === 422) {
      const refusal = directoryErrorReply.safeParse(json);
      if (refusal.success) throw new DirectoryError(refusal.data.error.code, refusal.data.error.message);
    }
    if (r.status !== 200) throw new AttemptError(`HTTP ${r.status}`, false);
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      log.problem("cluster api reply malformed", { backend: b.id, path });
      throw new AttemptError("malformed reply", false);
    }
    return parsed.data;
  };

  const call = async <T>(path: string, request: object, schema: z.ZodType<T>): Promise<T> => {
    const live = o.backends();
    if (live.length === 0) {
      log.problem("cluster api: no live backend", { path });
      throw new ClusterUnavailableError("no live backend");
    }
    // Each call starts one further along, spreading questions over the backends.
    const start = turn % live.length;
    turn = (turn + 1) % 1_000_000;
    const text = JSON.stringify(request);
    const failures: string[] = [];
    for (let i = 0; i < live.length; i++) {
      const b = live[(start + i) % live.length];
      if (b === undefined) continue;
      try {
        return await ask(b, path, text, schema);
      } catch (e) {
        if (!(e instanceof AttemptError)) throw e;
        log.low("cluster api backend failed", { backend: b.id, path, error: e.message });
        failures.push(`${b.id}: ${e.message}`);
      }
    }
    log.problem("cluster api: no backend answered", {
      path,
      tried: live.length,
      errors: failures.join("; "),
    });
    throw new ClusterUnavailableError(`no backend answered (${failures.join("; ")})`);
  };

  /** A cached answer, or one load shared by concurrent callers of the same key. */
  const cached = <V>(
    cache: AnswerCache<V>,
    key: string,
    negative: (v: V) => boolean,
    load: () => Promise<V>,
  ): Promise<V> => {
    const hit = cache.get(key);
    if (hit !== undefined) return Promise.resolve(hit.value);
    const running = inflight.get(key) as Promise<V> | undefined;
    if (running !== undefined) return running;
    const p = load()
      .then((v) => {
        cache.set(key, v, negative(v) ? o.negativeCacheMs : o.cacheMs);
        return v;
      })
      .finally(() => inflight.delete(key));
    inflight.set(key, p);
    return p;
  };

  const clearCache = (): void => {
    lookups.clear();
    accounts.clear();
    passwords.clear();
    grants.clear();
  };

  return {
    lookup(address) {
      if (badAddress(address)) return Promise.reject(new DirectoryError("invalid", "invalid address length"));
      const a = norm(address);
      return cached(
        lookups,
        `l:${a}`,
        (l) => l.kind === "unknown" || l.kind === "remote",
        async () => (await call(PATHS.lookup, { address: a }, lookupReply)).lookup,
      );
    },

    getAccount(address) {
      if (badAddress(address)) return Promise.resolve(null);
      const a = norm(address);
      return cached(
        accounts,
        `a:${a}`,
        (v) => v === null,
        async () => (await call(PATHS.account, { address: a }, accountReply)).account,
      );
    },

    async verifyPassword(address, password) {
      // Neither can exist in the directory: a wrong password, without asking.
      if (badAddress(address) || password.length > MAX_PASSWORD) return null;
      const a = norm(address);
      const ask = async () =>
        (await call(PATHS.verifyPassword, { address: a, password }, accountReply)).account;
      if (o.credentialStamp === undefined) return ask();
      let stamp: string | null;
      try {
        stamp = await o.credentialStamp(a);
      } catch (e) {
        // No stamp, no cache: the backend's answer is never older than the check.
        log.low("credential stamp unavailable", { error: errorText(e) });
        return ask();
      }
      // An unknown account is cached too (stamp null), so it costs what a known one costs.
      const key = createHmac("sha256", passwordKey)
        .update(JSON.stringify([a, password, stamp]))
        .digest("hex");
      return cached(passwords, `p:${key}`, (v) => v === null, ask);
    },

    async countFlow(address: string, direction: FlowDirection, since: number) {
      if (badAddress(address)) throw new DirectoryError("invalid", "invalid address length");
      return (await call(PATHS.countFlow, { address: norm(address), direction, since }, countFlowReply))
        .count;
    },

    async recordFlow(address: string, direction: FlowDirection, at: number) {
      if (badAddress(address)) throw new DirectoryError("invalid", "invalid address length");
      await call(PATHS.recordFlow, { address: norm(address), direction, at }, recordFlowReply);
    },

    async senderGrants(account) {
      if (badAddress(account)) return [];
      const a = norm(account);
      // An account without grants (the usual case) is a negative answer: a new grant shows soon.
      const list = await cached(
        grants,
        `g:${a}`,
        (g) => g.length === 0,
        async () => (await call(PATHS.senderGrants, { account: a }, senderGrantsReply)).grants,
      );
      return [...list];
    },

    clearCache,

    close() {
      clearCache();
      agent.destroy();
    },
  };
}

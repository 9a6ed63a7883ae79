// Who is calling the submission API: HTTP Basic (RFC 7617) with the account's address and
// password, checked by Directory.verifyPassword. Failed logins are counted per client address
// and per address tried; past submitApi.maxAuthFailures in the window every login from that
// client, or for that address, gets 429 with Retry-After until the window has passed, right or
// wrong password, so guessing costs time. The counters are bounded in size (oldest dropped).
import type { Account, Directory } from "../../directory/directory.js";
import type { Log } from "../../log/logger.js";
import type { Clock } from "../../world/clock.js";
import { HttpError } from "../http/exchange.js";

const MAX_TRACKED = 10_000;

export interface Authenticator {
  /** The enabled account the request authenticates as, or an HttpError (401, 403, 429, 503). */
  authenticate(header: string | undefined, client: string): Promise<Account>;
}

function parseBasic(header: string | undefined): { user: string; password: string } | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
  if (m === null) return null;
  const text = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = text.indexOf(":");
  if (colon <= 0) return null;
  return { user: text.slice(0, colon).trim(), password: text.slice(colon + 1) };
}

export function createAuthenticator(o: {
  readonly directory: Directory;
  readonly clock: Clock;
  readonly maxFailures: number;
  readonly windowMs: number;
  /** Tag API. */
  readonly log: Log;
}): Authenticator {
  // key → failure times within the window, oldest first; Map order is insertion order.
  const failures = new Map<string, number[]>();

  const recent = (key: string, now: number): number[] => {
    const list = (failures.get(key) ?? []).filter((t) => t > now - o.windowMs);
    if (list.length === 0) failures.delete(key);
    else failures.set(key, list);
    return list;
  };
  const fail = (key: string, now: number): void => {
    const list = recent(key, now);
    failures.delete(key);
    failures.set(key, [...list, now]);
    while (failures.size > MAX_TRACKED) failures.delete(failures.keys().next().value!);
  };
  const unauthorized = (): HttpError =>
    new HttpError(
      401,
      "authentication required: HTTP Basic with the account's address and password",
      undefined,
      {
        "www-authenticate": 'Basic realm="mailyard submission", charset="UTF-8"',
      },
    );

  return {
    async authenticate(header, client) {
      const now = o.clock.now();
      const creds = parseBasic(header);
      const keys = [`ip:${client}`, ...(creds === null ? [] : [`user:${creds.user.toLowerCase()}`])];
      for (const key of keys) {
        const list = recent(key, now);
        if (list.length >= o.maxFailures) {
          const retry = Math.max(1, Math.ceil((list[0]! + o.windowMs - now) / 1000));
          o.log.problem("login throttled", { client, user: creds?.user ?? null, source: "api" });
          throw new HttpError(429, "too many failed logins; try again later", undefined, {
            "retry-after": String(retry),
          });
        }
      }
      if (creds === null) {
        if (header !== undefined) fail(`ip:${client}`, now);
        throw unauthorized();
      }
      let account: Account | null;
      try {
        account = await o.directory.verifyPassword(creds.user, creds.password);
      } catch (e) {
        o.log.problem("auth lookup failed", { client, error: String(e), source: "api" });
        throw new HttpError(503, "the directory is unavailable; try again later", undefined, {
          "retry-after": "30",
        });
      }
      if (account === null) {
        for (const key of keys) fail(key, now);
        o.log.problem("login failed", { client, user: creds.user, source: "api" });
        throw unauthorized();
      }
      if (!account.enabled) throw new HttpError(403, "the account is disabled");
      return account;
    },
  };
}

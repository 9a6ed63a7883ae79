// Who is calling the submission API: HTTP Basic (RFC 7617) with the account's address and
// password, through the node's login gate (src/state/login-gate.ts): the canonical name (a
// padded one is refused, not trimmed), the throttle in the shared state, which counts these
// logins with SMTP AUTH and POP3 per account and per client address, then
// Directory.verifyPassword. A locked client or account gets 429 with Retry-After, right or wrong
// password, so guessing costs time; every failure is one `auth failed` line.
import type { Account, Directory } from "../../directory/directory.js";
import type { Log } from "../../log/logger.js";
import type { LoginGate } from "../../state/login-gate.js";
import { HttpError } from "../http/exchange.js";

export interface Authenticator {
  /** The enabled account the request authenticates as, or an HttpError (401, 403, 429, 503). */
  authenticate(header: string | undefined, client: string): Promise<Account>;
}

function parseBasic(header: string): { user: string; password: string } | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (m === null) return null;
  const text = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = text.indexOf(":");
  if (colon <= 0) return null;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

export function createAuthenticator(o: {
  readonly directory: Pick<Directory, "verifyPassword">;
  readonly login: LoginGate;
  /** Tag API. */
  readonly log: Log;
}): Authenticator {
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
      // No credentials yet: the challenge, not a failure.
      if (header === undefined) throw unauthorized();
      const c = { service: "submit-api" as const, mech: "Basic", ip: client, log: o.log };
      const creds = parseBasic(header);
      if (creds === null) {
        await o.login.refuse(c, "", "malformed");
        throw unauthorized();
      }
      const r = await o.login.check({
        ...c,
        typed: creds.user,
        password: creds.password,
        verify: (name, pw) => o.directory.verifyPassword(name, pw),
      });
      switch (r.kind) {
        case "throttled":
          throw new HttpError(429, "too many failed logins; try again later", undefined, {
            "retry-after": String(Math.max(1, Math.ceil(r.waitMs / 1000))),
          });
        case "invalid":
          throw unauthorized();
        case "temporary":
          throw new HttpError(503, "the directory is unavailable; try again later", undefined, {
            "retry-after": "30",
          });
        case "ok":
          if (!r.account.enabled) throw new HttpError(403, "the account is disabled");
          return r.account;
      }
    },
  };
}

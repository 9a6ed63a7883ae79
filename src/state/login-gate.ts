// One login check for every way in (SMTP AUTH, POP3, the submission API, the WebAdmin), in one
// order: the canonical name (proto/login-name.ts: a padded or control-character name is refused
// as it is, never trimmed into another), the throttle (throttle.ts, in the shared state: a locked
// name or address is refused before any password work), the password check (the caller's
// verify, which checks an unknown name against a dummy hash, so unknown and known names cost the
// same and get the same answer), then counting the failure or clearing the name.
//
// Every refusal is one record at the default level (Major), constant text and the client address
// first, for fail2ban (docs/OPERATIONS.md has the filter):
//   HH:MM:SS.mmm 2 SMTPI-000012(198.51.100.7) auth failed ip=198.51.100.7 service=smtp mech=PLAIN reason=bad-credentials user=alice@example.test
// The name is logged only in canonical form (never the typed bytes), and never the password.
import type { Log } from "../log/logger.js";
import { loginName, type LoginName } from "../proto/login-name.js";
import type { LoginThrottle } from "./throttle.js";

export type LoginService = "smtp" | "pop3" | "submit-api" | "webadmin";

/** Why a login was refused, as logged (reason=). */
export type RefusalReason = "bad-name" | "bad-credentials" | "disabled" | "throttled" | "malformed";

export type LoginOutcome<A> =
  | { readonly kind: "ok"; readonly name: LoginName; readonly account: A }
  /** Wrong name or password, or an account that may not log in: the same answer for each. */
  | { readonly kind: "invalid" }
  /** Refused without a password check until waitMs has passed. */
  | { readonly kind: "throttled"; readonly waitMs: number }
  /** The check could not be made (store unavailable): nothing was counted. */
  | { readonly kind: "temporary"; readonly error: string };

export interface LoginClient {
  readonly service: LoginService;
  /** The mechanism or command: PLAIN, LOGIN, USER, Basic, form. */
  readonly mech: string;
  /** The client's address as the session sees it (after a PROXY header). */
  readonly ip: string;
  /** The service's log, with the session's id and context. */
  readonly log: Log;
}

export interface LoginAttempt<A> extends LoginClient {
  /** The name as the client sent it. Untrusted. */
  readonly typed: string;
  readonly password: string;
  /** The account when the password matches, else null; throws when it cannot tell. */
  readonly verify: (name: LoginName, password: string) => Promise<A | null>;
  /** A matching account that may not log in (disabled): refused as a wrong password. */
  readonly usable?: (account: A) => boolean;
}

export interface LoginGate {
  check<A>(attempt: LoginAttempt<A>): Promise<LoginOutcome<A>>;
  /**
   * A login refused before any check (a malformed exchange, a foreign authorization identity):
   * counted against the address (and the name, when it has a canonical form) and logged.
   */
  refuse(client: LoginClient, typed: string, reason: "malformed" | "bad-name"): Promise<void>;
}

export function createLoginGate(throttle: LoginThrottle): LoginGate {
  const failed = (c: LoginClient, reason: RefusalReason, name: LoginName | null): void =>
    c.log.major("auth failed", {
      ip: c.ip,
      service: c.service,
      mech: c.mech,
      reason,
      ...(name !== null ? { user: name } : {}),
    });

  return {
    async check<A>(a: LoginAttempt<A>): Promise<LoginOutcome<A>> {
      const name = loginName(a.typed);
      let waitMs: number;
      try {
        waitMs = await throttle.wait(name, a.ip);
      } catch (e) {
        a.log.problem("login throttle unavailable", { error: String(e), service: a.service });
        return { kind: "temporary", error: String(e) };
      }
      if (waitMs > 0) {
        failed(a, "throttled", name);
        return { kind: "throttled", waitMs };
      }
      try {
        if (name === null) {
          await throttle.failed(null, a.ip);
          failed(a, "bad-name", null);
          return { kind: "invalid" };
        }
        let account: A | null;
        try {
          account = await a.verify(name, a.password);
        } catch (e) {
          a.log.problem("auth lookup failed", { error: String(e), service: a.service });
          return { kind: "temporary", error: String(e) };
        }
        if (account === null || (a.usable !== undefined && !a.usable(account))) {
          await throttle.failed(name, a.ip);
          failed(a, account === null ? "bad-credentials" : "disabled", name);
          return { kind: "invalid" };
        }
        // Clearing the count is a courtesy to the user, not a check: a failure here logs in.
        await throttle
          .succeeded(name)
          .catch((e: unknown) =>
            a.log.problem("login throttle unavailable", { error: String(e), service: a.service }),
          );
        return { kind: "ok", name, account };
      } catch (e) {
        // The count could not be written: refuse for now rather than let guesses go uncounted.
        a.log.problem("login throttle unavailable", { error: String(e), service: a.service });
        return { kind: "temporary", error: String(e) };
      }
    },

    async refuse(c, typed, reason) {
      const name = reason === "bad-name" ? null : loginName(typed);
      try {
        await throttle.failed(name, c.ip);
      } catch (e) {
        c.log.problem("login throttle unavailable", { error: String(e), service: c.service });
      }
      failed(c, reason, name);
    },
  };
}

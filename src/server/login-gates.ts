// A node's login gates (src/state/login-gate.ts) over one set of throttle rows in the shared
// state (state-stores.ts openThrottleRowsFor): "mail" for the accounts, whichever way they are
// tried (SMTP AUTH, POP3, the submission API), with the auth.* settings; "admin" for the
// WebAdmin's administrators, with webadmin.login*. The two scopes never count into each other.
import type { Settings } from "../config/settings.js";
import { createLoginGate, type LoginGate } from "../state/login-gate.js";
import { createLoginThrottle, type ThrottleRows } from "../state/throttle.js";
import type { Clock } from "../world/clock.js";

export interface LoginGates {
  readonly mail: LoginGate;
  readonly admin: LoginGate;
}

// The WebAdmin's counts are forgotten after an hour at least (its settings name no window).
const ADMIN_FORGET_MS = 3_600_000;

export function loginGates(settings: Settings, clock: Clock, rows: ThrottleRows): LoginGates {
  const mail = createLoginThrottle({
    clock,
    rows,
    scope: "mail",
    policy: () => ({
      freeFailures: settings.auth.maxFailures,
      freeFailuresPerAddress: settings.auth.maxFailuresPerAddress,
      baseMs: settings.auth.lockoutSeconds * 1000,
      maxMs: settings.auth.maxLockoutSeconds * 1000,
      forgetMs: settings.auth.failureWindowSeconds * 1000,
    }),
  });
  const admin = createLoginThrottle({
    clock,
    rows,
    scope: "admin",
    policy: () => {
      const w = settings.webadmin;
      return {
        freeFailures: w.loginFreeFailures,
        freeFailuresPerAddress: w.loginFreeFailuresPerAddress,
        baseMs: w.loginLockSeconds * 1000,
        maxMs: w.loginMaxLockSeconds * 1000,
        forgetMs: Math.max(w.loginMaxLockSeconds * 2000, ADMIN_FORGET_MS),
      };
    },
  });
  return { mail: createLoginGate(mail), admin: createLoginGate(admin) };
}

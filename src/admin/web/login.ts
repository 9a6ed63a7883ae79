// WebAdmin login, logout and the session check, and how a browser request to the admin API is
// authenticated: the session cookie (HttpOnly, SameSite=Strict, Secure on TLS) names a session
// (sessions.ts), and every state-changing request must carry that session's CSRF token in
// X-CSRF-Token (synchronizer token pattern; the page gets it from /admin/session, never from
// a cookie, so another site can neither read nor send it). Logins go through the login gate
// (src/state/login-gate.ts): one canonical name, throttled per name and per client address in
// the shared state, every failure logged as `auth failed`. Everything here is untrusted browser
// input: bodies are bounded JSON, names and passwords bounded, and a refusal never says whether
// the name exists.
import type http from "node:http";
import { timingSafeEqual, createHash } from "node:crypto";
import type { Log } from "../../log/logger.js";
import type { Session, SessionStore } from "./sessions.js";
import type { LoginGate } from "../../state/login-gate.js";
import type { AdminUserStore } from "./users.js";

export const COOKIE = "mailyard_session";
const MAX_LOGIN_BODY = 4096;

export interface WebAuth {
  readonly users: AdminUserStore;
  readonly sessions: SessionStore;
  readonly gate: LoginGate;
  readonly log: Log;
}

export interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

/** The session cookie's value, if the request has one. */
export function sessionCookie(req: http.IncomingMessage): string | null {
  const header = req.headers.cookie ?? "";
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === COOKIE) return part.slice(eq + 1).trim();
  }
  return null;
}

const isTls = (req: http.IncomingMessage): boolean =>
  (req.socket as { encrypted?: boolean }).encrypted === true;

function cookie(req: http.IncomingMessage, value: string, maxAgeSeconds: number): string {
  return [
    `${COOKIE}=${value}`,
    "Path=/",
    "HttpOnly",
    "SameSite=Strict",
    `Max-Age=${maxAgeSeconds}`,
    ...(isTls(req) ? ["Secure"] : []),
  ].join("; ");
}

const same = (a: string, b: string): boolean => {
  const h = (s: string): Buffer => createHash("sha256").update(s).digest();
  return timingSafeEqual(h(a), h(b));
};

/** The session of a request, or null. */
export async function sessionOf(
  auth: WebAuth,
  req: http.IncomingMessage,
): Promise<{ id: string; session: Session } | null> {
  const id = sessionCookie(req);
  if (id === null) return null;
  const session = await auth.sessions.get(id);
  return session === null ? null : { id, session };
}

/** True when the request carries the session's CSRF token. */
export function csrfOk(req: http.IncomingMessage, session: Session): boolean {
  const given = req.headers["x-csrf-token"];
  return typeof given === "string" && given.length > 0 && same(given, session.csrf);
}

function parseLogin(body: Buffer): { user: string; password: string } | null {
  if (body.length > MAX_LOGIN_BODY) return null;
  let v: unknown;
  try {
    v = JSON.parse(body.toString("utf8"));
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  const { user, password } = v as Record<string, unknown>;
  if (typeof user !== "string" || typeof password !== "string") return null;
  if (user.length === 0 || user.length > 64 || password.length === 0 || password.length > 1024) return null;
  return { user, password };
}

export async function login(
  auth: WebAuth,
  req: http.IncomingMessage,
  body: Buffer,
  sessionMaxSeconds: number,
): Promise<Reply> {
  // A JSON content type cannot be sent cross-site without a CORS preflight we never answer.
  if (!/^application\/json\b/i.test(req.headers["content-type"] ?? ""))
    return { status: 415, body: { error: "login takes a JSON body {user, password}" } };
  const creds = parseLogin(body);
  if (creds === null) return { status: 400, body: { error: "login takes a JSON body {user, password}" } };
  const client = req.socket.remoteAddress ?? "";
  const r = await auth.gate.check({
    service: "webadmin",
    mech: "form",
    ip: client,
    log: auth.log,
    typed: creds.user,
    password: creds.password,
    verify: (name, password) => auth.users.verify(name, password),
  });
  switch (r.kind) {
    case "throttled": {
      const seconds = Math.ceil(r.waitMs / 1000);
      return {
        status: 429,
        body: { error: `too many failed logins: try again in ${seconds} s`, retryAfter: seconds },
        headers: { "retry-after": String(seconds) },
      };
    }
    case "invalid":
      return { status: 401, body: { error: "wrong user name or password" } };
    case "temporary":
      return { status: 503, body: { error: "logins are unavailable, try again later" } };
    case "ok":
      break;
  }
  const user = r.account;
  // A fresh id at every login: a session id planted before login is never promoted.
  const old = sessionCookie(req);
  if (old !== null) await auth.sessions.destroy(old);
  const { id, session } = await auth.sessions.create(user.name);
  auth.log.major("admin login", { user: user.name, client });
  return {
    status: 200,
    body: { user: user.name, csrf: session.csrf },
    headers: { "set-cookie": cookie(req, id, sessionMaxSeconds) },
  };
}

export async function logout(auth: WebAuth, req: http.IncomingMessage): Promise<Reply> {
  const s = await sessionOf(auth, req);
  if (s === null) return { status: 401, body: { error: "not logged in" } };
  if (!csrfOk(req, s.session)) return { status: 403, body: { error: "CSRF token missing or wrong" } };
  await auth.sessions.destroy(s.id);
  auth.log.major("admin logout", { user: s.session.user });
  return { status: 200, body: { ok: true }, headers: { "set-cookie": cookie(req, "", 0) } };
}

export async function whoami(auth: WebAuth, req: http.IncomingMessage): Promise<Reply> {
  const s = await sessionOf(auth, req);
  if (s === null) return { status: 401, body: { error: "not logged in" } };
  return { status: 200, body: { user: s.session.user, csrf: s.session.csrf } };
}

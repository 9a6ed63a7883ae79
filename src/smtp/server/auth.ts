// AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN: the credentials are untrusted base64 and go
// to handler.authenticate; the password is never logged or kept. Offered, and accepted, only
// over TLS unless smtp.authRequiresTls is false (538 5.7.11 otherwise). The handler throttles
// guessing across connections and nodes (454 4.7.0 once locked); failures also count as session
// errors, so one connection is cut off by smtp.maxErrors. The session's user is the canonical
// login name (proto/login-name.ts), however the client spelled it.
import { loginName } from "../../proto/login-name.js";
import { REPLIES, reply, type Reply } from "../../proto/reply.js";
import type { SessionApi, Verb } from "./verb.js";

const allowed = (s: SessionApi): boolean => s.tlsActive || !s.settings.smtp.authRequiresTls;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

type Answer = { readonly text: string } | { readonly reply: Reply } | null;
/** Credentials that cannot be checked (no name, another identity): refused, and told to the handler. */
type Refused = { readonly refused: string };

/** Decodes one client response; "=" is the empty initial response (RFC 4954 §4). */
function decode(text: string): Answer {
  if (text === "*") return { reply: REPLIES.authCancelled };
  if (text === "=") return { text: "" };
  if (!BASE64.test(text)) return { reply: REPLIES.paramSyntax };
  return { text: Buffer.from(text, "base64").toString("utf8") };
}

/** Sends a 334 challenge and reads the answer; null when the client went away. */
async function ask(s: SessionApi, challenge: string): Promise<Answer> {
  s.reply(reply(334, null, challenge));
  const line = await s.readLine();
  if (line === null) return null;
  if (line.kind === "tooLong") return { reply: REPLIES.authTooLong };
  return decode(line.text.toString("latin1"));
}

/**
 * A SASL mechanism: the user and password, a reply that ends the exchange, a refusal of the user,
 * or null when the client went away.
 */
type Mechanism = (
  s: SessionApi,
  initial: string | undefined,
) => Promise<[string, string] | Reply | Refused | null>;

/** The client's first response: the initial one given with AUTH, else its answer to `challenge`. */
const first = (s: SessionApi, initial: string | undefined, challenge: string): Promise<Answer> =>
  initial !== undefined ? Promise.resolve(decode(initial)) : ask(s, challenge);

const plain: Mechanism = async (s, initial) => {
  const a = await first(s, initial, "");
  if (a === null) return null;
  if ("reply" in a) return a.reply;
  const parts = a.text.split("\0");
  if (parts.length !== 3) return REPLIES.paramSyntax;
  const [authz, user, pass] = parts as [string, string, string];
  // Acting for another user (authzid) is not supported: only empty or oneself.
  if (user === "" || (authz !== "" && authz !== user)) return { refused: user };
  return [user, pass];
};

const login: Mechanism = async (s, initial) => {
  const u = await first(s, initial, "VXNlcm5hbWU6");
  if (u === null) return null;
  if ("reply" in u) return u.reply;
  const p = await ask(s, "UGFzc3dvcmQ6");
  if (p === null) return null;
  if ("reply" in p) return p.reply;
  if (u.text === "") return { refused: "" };
  return [u.text, p.text];
};

export const auth: Verb = {
  name: "AUTH",
  advertise: (s) => (allowed(s) ? ["AUTH PLAIN LOGIN"] : []),
  async run(s: SessionApi, arg: string): Promise<void> {
    if (s.helo === null || !s.esmtp) return s.reply(REPLIES.needHelo);
    if (s.authUser !== null) return s.reply(REPLIES.alreadyAuth);
    if (s.tx !== null) return s.reply(REPLIES.authInTransaction);
    if (!allowed(s)) return s.reply(REPLIES.encryptionRequired);
    const [mech = "", initial, extra] = arg.split(" ");
    if (extra !== undefined) return s.reply(REPLIES.paramSyntax);
    const m = mech.toUpperCase();
    const got =
      m === "PLAIN"
        ? await plain(s, initial)
        : m === "LOGIN"
          ? await login(s, initial)
          : REPLIES.authMechUnknown;
    if (got === null) return;
    if ("refused" in got) {
      await s.safely(
        "authRefused",
        () => s.handler.authRefused?.(s.info(), got.refused, m) ?? Promise.resolve(),
      );
      return s.reply(REPLIES.authFailed);
    }
    if (!Array.isArray(got)) return s.reply(got);
    const [user, password] = got;
    const result = await s.safely("authenticate", () => s.handler.authenticate(s.info(), user, password, m));
    switch (result) {
      case "ok":
        s.authUser = loginName(user) ?? user;
        s.log.info("authenticated", { user: s.authUser, mech: m });
        return s.reply(REPLIES.authOk);
      case "invalid":
        s.log.problem("authentication failed", { user, mech: m });
        return s.reply(REPLIES.authFailed);
      case "throttled":
        return s.reply(REPLIES.authThrottled);
      case "temporary":
      case null:
        return s.reply(REPLIES.authTempFail);
    }
  },
};

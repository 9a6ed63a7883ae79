// The sendmail route of the admin API: POST /api/sendmail?from=SENDER&to=RCPT&to=RCPT with the
// message as the body (message/rfc822), authenticated with the admin bearer token, as
// `mailyard sendmail` (src/cli/sendmail.ts) sends it. The CLI has done the sendmail part (flags,
// -t, Bcc removed, From:/Date:/Message-ID: added); this checks what it is given again, since
// anything may hold the token's file or the port, and submits with source tag `pipe`.
// Answers 202 { id, node, remote }; 503 when the submitter answers 4xx (the CLI then falls back
// to the Submitted folder), 422 for its 5xx, 400 for a bad address or header, 413 too big.
import type http from "node:http";
import { tokenMatches } from "../../http/bearer.js";
import type { Log } from "../../log/logger.js";
import { isTemporary } from "../../proto/reply.js";
import type { SourceContext } from "../context.js";
import { HttpError, readBody, sendError, sendJson } from "../http/exchange.js";
import { completeHeader, draftFor, envelopeAddress } from "../message/envelope.js";
import { HeaderError, HeaderLimitExceeded, parseMessage, toCrlf } from "../message/header.js";

export const SENDMAIL_PATH = "/api/sendmail";

export function sendmailRoute(
  ctx: SourceContext,
): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> {
  const log: Log = ctx.log.for("PIPE");
  const { settings } = ctx;

  const handle = async (req: http.IncomingMessage, url: URL): Promise<unknown> => {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "")?.[1];
    if (bearer === undefined || !tokenMatches(bearer, ctx.adminToken)) {
      log.problem("sendmail request refused", { client: req.socket.remoteAddress, source: "pipe" });
      throw new HttpError(
        401,
        "authorization required: Authorization: Bearer <token from dataDir/admin.token>",
        undefined,
        {
          "www-authenticate": "Bearer",
        },
      );
    }
    if (req.method !== "POST") throw new HttpError(405, "use POST", undefined, { allow: "POST" });
    const fromText = url.searchParams.get("from") ?? "";
    const returnPath = fromText === "" ? "" : envelopeAddress(fromText, "sender");
    if (returnPath === null) throw new HttpError(400, "bad sender address", "from");
    const recipients: string[] = [];
    for (const [i, t] of url.searchParams.getAll("to").entries()) {
      const a = envelopeAddress(t, "recipient");
      if (a === null) throw new HttpError(400, `bad recipient address: ${t.slice(0, 100)}`, `to[${i}]`);
      recipients.push(a);
    }
    if (recipients.length === 0) throw new HttpError(400, "no recipients", "to");
    const body = await readBody(req, settings.smtp.maxMessageSize);
    let parsed;
    try {
      parsed = parseMessage(toCrlf(body), settings.smtp);
    } catch (e) {
      if (e instanceof HeaderError)
        throw new HttpError(e instanceof HeaderLimitExceeded ? 413 : 400, e.message, "message");
      throw e;
    }
    const now = ctx.clock.now();
    const { draft, message } = draftFor(
      completeHeader(parsed, {
        now,
        hostname: settings.hostname,
        unique: ctx.random.bytes(12).toString("hex"),
      }),
      {
        source: "pipe",
        returnPath,
        recipients,
        authUser: null,
        client: null,
        arrival: now,
        hostname: settings.hostname,
        via: "sendmail",
        protocol: "local",
      },
    );
    if (message.length > settings.smtp.maxMessageSize)
      throw new HttpError(
        413,
        `message larger than smtp.maxMessageSize (${settings.smtp.maxMessageSize} bytes)`,
      );
    const r = await ctx.submitter.submit(draft, message);
    if (!r.ok) {
      const text = `${r.reply.code} ${r.reply.enhanced ?? ""} ${r.reply.text}`.replace(/ +/g, " ");
      log.problem("sendmail submit refused", { reply: text, source: "pipe" });
      throw new HttpError(isTemporary(r.reply) ? 503 : 422, text);
    }
    log.major("submitted", {
      id: r.id,
      node: r.node,
      from: returnPath,
      nrcpt: recipients.length,
      size: message.length,
      source: "pipe",
    });
    return { id: r.id, node: r.node, remote: r.remote };
  };

  return async (req, res) => {
    const url = new URL(req.url ?? "/", "http://sources.invalid");
    if (url.pathname !== SENDMAIL_PATH) return false;
    try {
      sendJson(res, 202, await handle(req, url));
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      sendError(res, e);
    }
    return true;
  };
}

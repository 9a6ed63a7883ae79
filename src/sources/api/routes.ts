// The submission API (HTTP + JSON on http.listen, outside the admin API's /api/):
//   POST /submit/v1/messages  compose: JSON { from, to, cc, bcc, subject, text, html, attachments }
//   POST /submit/v1/raw       raw: an RFC 5322 message, as message/rfc822 (?from=&to=&to=) or as
//                             JSON { message: base64, from?, to? }; without to, the recipients
//                             are the To/Cc/Bcc addresses, and Bcc is removed from the message
// Authenticated as the account (auth.ts); From: (and a given envelope sender) must be an address
// the account owns: itself, an alias delivering to it, or a grant (directory/sender-owner.ts). Answers
// 202 { id, node, remote, messageId, recipients } once the message is durable in a queue.
// Errors are JSON { error, field? }: 400 bad JSON or field (named), 401, 403 (from not
// allowed, account disabled), 404/405, 409/422 (Idempotency-Key), 413 too big, 429 (logins,
// the account's sending limit), 503 (the submitter answered 4xx: try again), 422 for its 5xx.
// With an Idempotency-Key a retry gets the first answer and sends nothing (idempotency.ts).
import type http from "node:http";
import { z } from "zod";
import type { Account, Directory } from "../../directory/directory.js";
import { ownsSender } from "../../directory/sender-owner.js";
import type { Log } from "../../log/logger.js";
import { isTemporary } from "../../proto/reply.js";
import type { Submitter } from "../../queue/submit.js";
import type { Clock } from "../../world/clock.js";
import type { Random } from "../../world/random.js";
import { HttpError, mediaType, parseJson, readBody, sendError, sendJson } from "../http/exchange.js";
import { addressesOf, completeHeader, draftFor, envelopeAddress } from "../message/envelope.js";
import {
  field,
  fieldValues,
  hasField,
  HeaderError,
  HeaderLimitExceeded,
  parseMessage,
  toCrlf,
  withoutFields,
  type ParsedMessage,
} from "../message/header.js";
import type { Authenticator } from "./auth.js";
import { compose, composeSchema } from "./compose.js";
import { checkKey, type IdempotencyStore, type StoredAnswer } from "./idempotency.js";
import type { HeaderLimits } from "../../proto/header-limit.js";

export const API_PREFIX = "/submit/v1/";

const rawJsonSchema = z.strictObject({
  message: z.string().refine((s) => /^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(s), { message: "must be base64" }),
  from: z.string().max(2000).optional(),
  to: z.array(z.string().max(2000)).max(1000).optional(),
});

export interface ApiOptions {
  readonly directory: Directory;
  readonly submitter: Submitter;
  readonly auth: Authenticator;
  readonly keys: IdempotencyStore;
  readonly clock: Clock;
  readonly random: Random;
  readonly hostname: string;
  readonly maxMessageSize: number;
  /** smtp.maxHeaderBytes and smtp.maxHeaderFields. */
  readonly header: HeaderLimits;
  /** Tag API. */
  readonly log: Log;
}

/** zod's first issue as a 400 naming the field. */
function validate<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path
    .map((p, i) => (typeof p === "number" ? `[${p}]` : `${i > 0 ? "." : ""}${String(p)}`))
    .join("");
  const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
  const where = keys.length > 0 ? [path, keys[0]].filter((s) => s !== "").join(".") : path;
  throw new HttpError(
    400,
    `${where === "" ? "body" : where}: ${issue.message}`,
    where === "" ? undefined : where,
  );
}

export function submissionApi(
  o: ApiOptions,
): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> {
  const { log } = o;

  /** The one ownership rule SMTP sender binding uses too (directory/sender-owner.ts). */
  const mayUse = (account: Account, address: string): Promise<boolean> =>
    ownsSender(o.directory, account.address, address);

  const limitFor = (account: Account): number =>
    Math.min(o.maxMessageSize, account.maxMessageSize ?? Infinity);

  const submit = async (
    req: http.IncomingMessage,
    account: Account,
    m: ParsedMessage,
    returnPath: string,
    recipients: readonly string[],
  ): Promise<StoredAnswer> => {
    if (account.outFlow !== null) {
      const since = o.clock.now() - account.outFlow.periodSeconds * 1000;
      if ((await o.directory.countFlow(account.address, "out", since)) >= account.outFlow.messages)
        throw new HttpError(429, "the account has reached its sending limit; try again later", undefined, {
          "retry-after": String(account.outFlow.periodSeconds),
        });
    }
    const now = o.clock.now();
    const completed = completeHeader(m, {
      now,
      hostname: o.hostname,
      unique: o.random.bytes(12).toString("hex"),
    });
    const { draft, message } = draftFor(completed, {
      source: "api",
      returnPath,
      recipients,
      authUser: account.address,
      client: { address: req.socket.remoteAddress ?? "", port: req.socket.remotePort ?? 0 },
      arrival: now,
      hostname: o.hostname,
      via: "submission API",
      protocol: "HTTP",
    });
    const limit = limitFor(account);
    if (message.length > limit) throw new HttpError(413, `message larger than the limit of ${limit} bytes`);
    const r = await o.submitter.submit(draft, message);
    if (!r.ok) {
      const text = `${r.reply.code} ${r.reply.enhanced ?? ""} ${r.reply.text}`.replace(/ +/g, " ");
      log.problem("submit refused", { user: account.address, reply: text, source: "api" });
      if (isTemporary(r.reply)) throw new HttpError(503, text, undefined, { "retry-after": "60" });
      throw new HttpError(422, text);
    }
    await o.directory.recordFlow(account.address, "out", now).catch(() => undefined);
    const messageId = fieldValues(completed, ["Message-ID"])[0] ?? null;
    log.major("submitted", {
      id: r.id,
      node: r.node,
      user: account.address,
      from: returnPath,
      nrcpt: recipients.length,
      size: message.length,
      source: "api",
    });
    return {
      status: 202,
      body: { id: r.id, node: r.node, remote: r.remote, messageId, recipients, source: "api" },
    };
  };

  /** The message's header, within smtp.maxHeaderBytes / maxHeaderFields (413 with the SMTP reply). */
  const parsed = (bytes: Buffer): ParsedMessage => {
    try {
      return parseMessage(bytes, o.header);
    } catch (e) {
      if (e instanceof HeaderError)
        throw new HttpError(e instanceof HeaderLimitExceeded ? 413 : 400, e.message, "message");
      throw e;
    }
  };

  const composed = async (
    req: http.IncomingMessage,
    account: Account,
    body: Buffer,
  ): Promise<StoredAnswer> => {
    if (mediaType(req) !== "application/json") throw new HttpError(415, "send application/json");
    const input = validate(composeSchema, parseJson(body));
    const built = await compose(input, {
      messageId: `<${o.random.bytes(12).toString("hex")}@${o.hostname}>`,
      date: new Date(o.clock.now()),
    });
    if (!(await mayUse(account, built.from.address)))
      throw new HttpError(403, `${account.address} may not send as ${built.from.address}`, "from");
    return submit(req, account, parsed(toCrlf(built.message)), built.from.address, built.recipients);
  };

  const raw = async (
    req: http.IncomingMessage,
    url: URL,
    account: Account,
    body: Buffer,
  ): Promise<StoredAnswer> => {
    let bytes: Buffer;
    let from: string | undefined;
    let to: string[] | undefined;
    const type = mediaType(req);
    if (type === "message/rfc822") {
      bytes = body;
      from = url.searchParams.get("from") ?? undefined;
      const given = url.searchParams.getAll("to");
      to = given.length > 0 ? given : undefined;
    } else if (type === "application/json") {
      const input = validate(rawJsonSchema, parseJson(body));
      bytes = Buffer.from(input.message.replace(/\s+/g, ""), "base64");
      from = input.from;
      to = input.to;
    } else throw new HttpError(415, "send message/rfc822, or application/json with the message in base64");
    let m: ParsedMessage = parsed(toCrlf(bytes));
    // RFC 6409 §8.1: an MSA may add From: when it knows who the sender is.
    if (!hasField(m, "From")) m = { ...m, fields: [field("From", account.address), ...m.fields] };
    const authors = addressesOf(fieldValues(m, ["From"]));
    const author = authors[0];
    if (author === undefined) throw new HttpError(400, "the From: field has no address", "message");
    // Every author, not just the first: "From: alice, bob" speaks for bob too (RFC 5322 §3.6.2).
    for (const a of authors) {
      if (!(await mayUse(account, a)))
        throw new HttpError(403, `${account.address} may not send as ${a}`, "message");
    }
    let returnPath = author;
    if (from !== undefined) {
      const checked = envelopeAddress(from, "sender");
      if (checked === null || checked === "") throw new HttpError(400, "bad sender address", "from");
      if (!(await mayUse(account, checked)))
        throw new HttpError(403, `${account.address} may not send as ${checked}`, "from");
      returnPath = checked;
    }
    const recipients: string[] = [];
    const candidates = to ?? addressesOf(fieldValues(m, ["To", "Cc", "Bcc"]));
    for (const [i, c] of candidates.entries()) {
      const a = envelopeAddress(c, "recipient");
      if (a === null)
        throw new HttpError(400, `bad recipient address: ${c.slice(0, 100)}`, to ? `to[${i}]` : "message");
      if (!recipients.some((r) => r.toLowerCase() === a.toLowerCase())) recipients.push(a);
    }
    if (recipients.length === 0)
      throw new HttpError(400, "no recipients: give to, or To/Cc/Bcc fields", to ? "to" : "message");
    return submit(req, account, withoutFields(m, ["Bcc"]), returnPath, recipients);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    const kind =
      url.pathname === `${API_PREFIX}messages`
        ? "messages"
        : url.pathname === `${API_PREFIX}raw`
          ? "raw"
          : null;
    if (kind === null) throw new HttpError(404, `no such endpoint: ${url.pathname}`);
    if (req.method !== "POST") throw new HttpError(405, "use POST", undefined, { allow: "POST" });
    const client = req.socket.remoteAddress ?? "";
    const account = await o.auth.authenticate(req.headers.authorization, client);
    const key = checkKey(req.headers["idempotency-key"]);
    // Base64 makes JSON bodies a third larger than the message they carry.
    const limit = limitFor(account);
    const body = await readBody(
      req,
      mediaType(req) === "message/rfc822" ? limit : Math.ceil((limit * 4) / 3) + 1_048_576,
    );
    const work = (): Promise<StoredAnswer> =>
      kind === "messages" ? composed(req, account, body) : raw(req, url, account, body);
    if (key === null) {
      const answer = await work();
      sendJson(res, answer.status, answer.body);
      return;
    }
    const fingerprint = Buffer.concat([
      Buffer.from(`${kind}\n${mediaType(req)}\n${kind === "raw" ? url.search : ""}\n`),
      body,
    ]);
    const { answer, replayed } = await o.keys.once(account.address, key, fingerprint, work);
    if (replayed) log.low("idempotent replay", { user: account.address, key, source: "api" });
    sendJson(res, answer.status, answer.body, replayed ? { "idempotent-replayed": "true" } : {});
  };

  return async (req, res) => {
    const url = new URL(req.url ?? "/", "http://sources.invalid");
    if (!url.pathname.startsWith(API_PREFIX) && url.pathname !== API_PREFIX.slice(0, -1)) return false;
    try {
      await handle(req, res, url);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      if (e.status >= 400 && e.status !== 401 && e.status !== 429)
        log.low("request refused", { path: url.pathname, status: e.status, error: e.message, source: "api" });
      sendError(res, e);
    }
    return true;
  };
}

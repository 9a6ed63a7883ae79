// The HTTP side of the sources' routes (the submission API, the sendmail route): bodies read
// with a size limit (413 before the limit is passed in memory), answers as JSON with
// Cache-Control: no-store, and errors as { error, field? } with their status. Everything in a
// request is untrusted; an HttpError is a caller mistake, anything else thrown is a 500.
import type http from "node:http";
import { readBounded } from "../../world/bounded-body.js";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The request field at fault (400), e.g. "to[1]" or "attachments[0].content". */
    readonly field?: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    ...headers,
  });
  res.end(JSON.stringify(body) + "\n");
}

/** The error as JSON; a field at fault is named in the text too, for people reading it. */
export function sendError(res: http.ServerResponse, e: HttpError): void {
  if (e.field === undefined) return sendJson(res, e.status, { error: e.message }, e.headers);
  const text = e.message.startsWith(`${e.field}:`) ? e.message : `${e.field}: ${e.message}`;
  sendJson(res, e.status, { error: text, field: e.field }, e.headers);
}

/** The whole body, refused with 413 past `limit` bytes (Content-Length checked first). */
export async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new HttpError(413, `request body too large (limit ${limit} bytes)`);
  }
  const body = await readBounded(req, limit);
  if (body === "too-large") {
    req.resume();
    throw new HttpError(413, `request body too large (limit ${limit} bytes)`);
  }
  return body;
}

/** Parse a JSON body; 400 when it is not JSON. */
export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8")) as unknown;
  } catch {
    throw new HttpError(400, "request body is not JSON");
  }
}

/** The media type of the request, lower-cased, without parameters. */
export const mediaType = (req: http.IncomingMessage): string =>
  (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();

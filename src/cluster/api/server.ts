// The cluster API on a backend: frontends' directory questions (recipient lookup, password
// check, account status, flow counts, sender grants) answered from this backend's directory. Mounted on the
// admin HTTP server; it owns every path below /cluster/v1/ and nothing else.
// Trust: everything in a request is untrusted until its proof verifies (auth.ts). Unsigned,
// stale or forged requests get 401 and no data, whatever the path; headers are checked before
// the body is read and bodies are bounded. After authentication bodies are still validated
// (schemas.ts). Passwords are passed to the directory and never logged.
import type http from "node:http";
import type { z } from "zod";
import { DirectoryError, type RecipientLookup } from "../../directory/directory.js";
import type { Log } from "../../log/logger.js";
import type { Clock } from "../../world/clock.js";
import { checkSecret } from "../secret.js";
import { memberRequestRefusal } from "../tls/http-side.js";
import type { MemberTls } from "../tls/member-tls.js";
import { checkHeaders, checkOnce, checkProof, replyProof, requestReplayGuard } from "./auth.js";
import { readBounded } from "../../world/bounded-body.js";
import {
  accountRequest,
  accountToWire,
  countFlowRequest,
  lookupRequest,
  recordFlowRequest,
  senderGrantsRequest,
  verifyPasswordRequest,
} from "./schemas.js";
import {
  API_PREFIX,
  HEADERS,
  MAX_REQUEST_BODY,
  PATHS,
  type AccountReply,
  type CountFlowReply,
  type DirectoryErrorReply,
  type InboundDirectory,
  type LookupReply,
  type RecordFlowReply,
  type SenderGrantsReply,
} from "./types.js";

export interface ClusterApiOptions {
  readonly directory: InboundDirectory;
  /** cluster.secret; refused when shorter than MIN_SECRET_LENGTH (an empty key proves nothing). */
  readonly secret: string;
  /** This member's node.id: requests must name it as their receiver. */
  readonly nodeId: string;
  readonly clock: Clock;
  /** Tag CLUSTER. */
  readonly log: Log;
  /** Cluster TLS: requests only over it, from the member their headers name. */
  readonly memberTls?: MemberTls | null;
}

/** Handles the request and resolves true when its path is below /cluster/v1/, else false. */
export type ClusterApiHandler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean>;

class BadRequest extends Error {}

type Endpoint = (body: unknown, node: string) => Promise<unknown>;

function parse<T>(schema: z.ZodType<T>, v: unknown): T {
  const r = schema.safeParse(v);
  if (!r.success) throw new BadRequest("invalid request body");
  return r.data;
}

function lookupToWire(l: RecipientLookup): RecipientLookup {
  switch (l.kind) {
    case "account":
      return { kind: "account", account: accountToWire(l.account) };
    case "alias":
      return { kind: "alias", alias: { address: l.alias.address, targets: [...l.alias.targets] } };
    case "unknown":
    case "remote":
      return { kind: l.kind };
  }
}

function send(
  res: http.ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}

export function clusterApiHandler(o: ClusterApiOptions): ClusterApiHandler {
  const weak = checkSecret(o.secret);
  if (weak !== null) throw new Error(weak);
  const { directory: dir, log } = o;
  const once = requestReplayGuard();

  const endpoints = new Map<string, Endpoint>([
    [
      PATHS.lookup,
      async (b): Promise<LookupReply> => ({
        lookup: lookupToWire(await dir.lookup(parse(lookupRequest, b).address)),
      }),
    ],
    [
      PATHS.verifyPassword,
      async (b, node): Promise<AccountReply> => {
        const r = parse(verifyPasswordRequest, b);
        const account = await dir.verifyPassword(r.address, r.password);
        log.low("password checked", { node, user: r.address, ok: account !== null });
        return { account: account === null ? null : accountToWire(account) };
      },
    ],
    [
      PATHS.account,
      async (b): Promise<AccountReply> => {
        const account = await dir.getAccount(parse(accountRequest, b).address);
        return { account: account === null ? null : accountToWire(account) };
      },
    ],
    [
      PATHS.countFlow,
      async (b): Promise<CountFlowReply> => {
        const r = parse(countFlowRequest, b);
        return { count: await dir.countFlow(r.address, r.direction, r.since) };
      },
    ],
    [
      PATHS.recordFlow,
      async (b): Promise<RecordFlowReply> => {
        const r = parse(recordFlowRequest, b);
        await dir.recordFlow(r.address, r.direction, r.at);
        return {};
      },
    ],
    [
      PATHS.senderGrants,
      async (b): Promise<SenderGrantsReply> => ({
        grants: await dir.senderGrants(parse(senderGrantsRequest, b).account),
      }),
    ],
  ]);

  const refuse = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    path: string,
    reason: string,
  ): void => {
    log.problem("cluster api request refused", { client: req.socket.remoteAddress, path, reason });
    send(res, 401, JSON.stringify({ error: "authentication required" }) + "\n");
  };

  return async (req, res) => {
    const target = req.url ?? "/";
    const path = new URL(target, "http://cluster.invalid").pathname;
    if (!path.startsWith(API_PREFIX)) return false;
    const method = req.method ?? "GET";

    const claim = checkHeaders(req.headers, o.clock.now(), o.nodeId);
    if (typeof claim === "string") {
      refuse(req, res, path, claim);
      return true;
    }
    const notMember = memberRequestRefusal(req, o.memberTls, claim.nodeId);
    if (notMember !== null) {
      refuse(req, res, path, notMember);
      return true;
    }
    const declared = Number(req.headers["content-length"] ?? "0");
    if (!(declared <= MAX_REQUEST_BODY)) {
      send(res, 413, JSON.stringify({ error: "request body too large" }) + "\n", { connection: "close" });
      return true;
    }
    const body = await readBounded(req, MAX_REQUEST_BODY);
    if (body === "too-large") {
      // A chunked body past the bound: the stream is already torn down, nothing to answer on.
      res.destroy();
      return true;
    }
    if (!checkProof(o.secret, claim, method, target, body)) {
      refuse(req, res, path, "bad proof");
      return true;
    }

    const answer = (status: number, value: unknown, headers: Record<string, string> = {}): void => {
      const text = JSON.stringify(value) + "\n";
      send(res, status, text, {
        ...headers,
        [HEADERS.proof]: replyProof(o.secret, status, claim.proof, text),
      });
    };
    const used = checkOnce(once, claim, o.clock.now());
    if (used === "replayed") {
      refuse(req, res, path, "replayed request");
      return true;
    }
    if (used === "full") {
      // Signed: the member asking is genuine and is told to try another backend or later.
      log.problem("cluster api request refused", { node: claim.nodeId, path, reason: "replay memory full" });
      answer(503, { error: "too many requests" }, { "retry-after": "1" });
      return true;
    }
    const endpoint = endpoints.get(path);
    if (endpoint === undefined) {
      answer(404, { error: "no such endpoint" });
      return true;
    }
    if (method !== "POST") {
      answer(405, { error: "use POST" });
      return true;
    }
    try {
      let json: unknown;
      try {
        json = JSON.parse(body.toString("utf8"));
      } catch {
        throw new BadRequest("request body is not JSON");
      }
      answer(200, await endpoint(json, claim.nodeId));
      log.info("cluster api request", { node: claim.nodeId, path });
    } catch (e) {
      if (e instanceof BadRequest) {
        log.problem("cluster api request invalid", { node: claim.nodeId, path, error: e.message });
        answer(400, { error: e.message });
      } else if (e instanceof DirectoryError) {
        const reply: DirectoryErrorReply = { error: { code: e.code, message: e.message } };
        answer(422, reply);
      } else {
        log.failure("cluster api request failed", { node: claim.nodeId, path, error: String(e) });
        answer(500, { error: "internal error" });
      }
    }
    return true;
  };
}

// Node-to-node calls of the admin API, so any node's WebAdmin shows the whole cluster: a
// request for another member's queue, settings, counters or logs is forwarded to that member's
// HTTP listener (its address from the cluster state), signed with the cluster secret as the
// cluster API signs its requests (cluster/api/auth.ts: method, path, time, both node ids, nonce,
// body digest; accepted once), and the member signs its reply over the request's proof, so only a member can
// answer. What a peer sends back is still untrusted: bounded, parsed as JSON, passed on as data.
import http from "node:http";
import https from "node:https";
import {
  checkHeaders,
  checkOnce,
  checkProof,
  checkReply,
  replyProof,
  signRequest,
} from "../cluster/api/auth.js";
import type { ReplayGuard } from "../cluster/api/replay.js";
import { HEADERS } from "../cluster/api/types.js";
import { readBounded } from "../world/bounded-body.js";
import { parseHostPort } from "../proto/hostport.js";
import type { Clock } from "../world/clock.js";
import { memberHttpsOptions } from "../cluster/tls/http-side.js";
import type { MemberTls } from "../cluster/tls/member-tls.js";

/** Paths below /api/ a member may ask of another (never the directory, never a further hop). */
const PEER_PATHS = /^(queue(\/[^/]+(\/(hold|release|retry|reject))?)?|settings|monitor|milters|logs)$/;
export const peerPathAllowed = (rest: string): boolean => PEER_PATHS.test(rest);

const MAX_PEER_REPLY = 8 * 1024 * 1024;

export interface PeerReply {
  readonly status: number;
  readonly body: unknown;
}

export interface PeerCaller {
  /** Sends method + path (below /api/, with query) to member `node` at `address`. */
  call(node: string, address: string, method: string, path: string, body: Buffer): Promise<PeerReply>;
}

export function createPeerCaller(o: {
  secret: string;
  nodeId: string;
  clock: Clock;
  timeoutMs: number;
  /** Cluster TLS: requests go over it, to a peer proving node `node`. */
  memberTls?: MemberTls | null;
}): PeerCaller {
  const memberTls = o.memberTls ?? null;
  return {
    call(node, address, method, path, body) {
      const where = parseHostPort(address);
      const signed = signRequest(o.secret, o.nodeId, node, method, path, o.clock.now(), body);
      const requestProof = signed[HEADERS.proof] ?? "";
      return new Promise((resolve, reject) => {
        const request = memberTls === null ? http.request : https.request;
        const req = request({
          ...(memberTls === null ? {} : { ...memberHttpsOptions(memberTls, node), agent: false }),
          host: where.host,
          port: where.port,
          method,
          path,
          headers: {
            ...signed,
            accept: "application/json",
            "content-type": "application/json",
            "content-length": String(body.length),
          },
        });
        const timer = o.clock.setTimeout(
          () => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)),
          o.timeoutMs,
        );
        req.on("error", (e) => {
          timer.cancel();
          reject(e);
        });
        req.on("response", (res) => {
          readBounded(res, MAX_PEER_REPLY)
            .then((buf) => {
              timer.cancel();
              if (buf === "too-large") return reject(new Error("reply too large"));
              const given = res.headers[HEADERS.proof];
              if (
                !checkReply(
                  o.secret,
                  typeof given === "string" ? given : undefined,
                  res.statusCode ?? 0,
                  requestProof,
                  buf,
                )
              )
                return reject(new Error("reply not authenticated (is cluster.secret the same?)"));
              let parsed: unknown;
              try {
                parsed = JSON.parse(buf.toString("utf8"));
              } catch {
                return reject(new Error("reply is not JSON"));
              }
              resolve({ status: res.statusCode ?? 0, body: parsed });
            })
            .catch((e: unknown) => {
              timer.cancel();
              reject(e instanceof Error ? e : new Error(String(e)));
            });
        });
        req.end(body);
      });
    },
  };
}

/** A member's request as the receiving side sees it: who, and the proof to sign the reply over. */
export interface PeerClaim {
  readonly node: string;
  readonly proof: string;
}

/**
 * The peer's claim when headers and proof verify and the request is new to `once`, null when
 * there are no such headers, else why not.
 */
export function checkPeerRequest(
  secret: string,
  once: ReplayGuard,
  self: string,
  headers: http.IncomingHttpHeaders,
  method: string,
  path: string,
  body: Buffer,
  now: number,
): PeerClaim | null | string {
  if (headers[HEADERS.node] === undefined && headers[HEADERS.proof] === undefined) return null;
  const claim = checkHeaders(headers, now, self);
  if (typeof claim === "string") return claim;
  if (!checkProof(secret, claim, method, path, body)) return "wrong proof";
  const used = checkOnce(once, claim, now);
  if (used === "replayed") return "replayed request";
  if (used === "full") return "too many requests";
  return { node: claim.nodeId, proof: claim.proof };
}

export const peerReplyHeaders = (secret: string, claim: PeerClaim, status: number, text: string) => ({
  [HEADERS.proof]: replyProof(secret, status, claim.proof, text),
});

// The cluster API's contract: what a frontend asks a backend (the directory questions the
// inbound SMTP policy needs), the endpoints and their JSON bodies, and the error a frontend
// sees when no backend answers. Shapes here are trusted by neither side: schemas.ts validates
// every body on receipt.
import type { Account, Directory, RecipientLookup } from "../../directory/directory.js";

/**
 * The directory as the inbound SMTP policy uses it (src/inbound/handler.ts and the alias
 * expansion it calls): a frontend implements it over the cluster API, a single server or a
 * backend passes its own Directory.
 */
export type InboundDirectory = Pick<
  Directory,
  "lookup" | "verifyPassword" | "getAccount" | "countFlow" | "recordFlow" | "senderGrants"
>;

/**
 * No backend answered (none live, or every one failed or timed out). The inbound policy turns
 * any thrown directory error into a 4xx, so a frontend never accepts what it cannot check.
 */
export class ClusterUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ClusterUnavailableError";
  }
}

/** Everything the API serves sits below this prefix. */
export const API_PREFIX = "/cluster/v1/";

export const PATHS = {
  lookup: "/cluster/v1/lookup",
  verifyPassword: "/cluster/v1/verify-password",
  account: "/cluster/v1/account",
  countFlow: "/cluster/v1/flow/count",
  recordFlow: "/cluster/v1/flow/record",
  senderGrants: "/cluster/v1/sender-grants",
} as const;

/** Request headers (lower-case, as node:http presents them). */
export const HEADERS = {
  node: "x-mailyard-node",
  /** The member the request is for: a request replayed to another member is refused there. */
  to: "x-mailyard-to",
  time: "x-mailyard-time",
  proof: "x-mailyard-proof",
  /** 128 random bits, covered by the proof: each signed request is accepted once. */
  nonce: "x-mailyard-nonce",
} as const;

/** Requests are a few hundred bytes; anything near this is not from a member. */
export const MAX_REQUEST_BODY = 64 * 1024;
/** Replies carry at most one account or one alias (up to 1000 targets of ≤ 256 bytes). */
export const MAX_REPLY_BODY = 1024 * 1024;
/**
 * A request signed longer ago than this by the receiver's clock is refused: it covers the
 * network and members' clocks a few seconds apart (NTP keeps them within milliseconds). Inside
 * it a request is still accepted only once (replay.ts).
 */
export const MAX_REQUEST_AGE_MS = 15_000;
/** ... and one dated further ahead than this: a clock ahead by more is a fault, not skew. */
export const MAX_REQUEST_AHEAD_MS = 5_000;
/** Longest address or password the API carries; longer ones cannot exist in the directory. */
export const MAX_ADDRESS = 1024;
export const MAX_PASSWORD = 16 * 1024;

// The requests' bodies are the zod schemas of schemas.ts (lookupRequest, ...); the replies as
// the backend builds them:

export interface LookupReply {
  readonly lookup: RecipientLookup;
}

/** verify-password and account: the account, or null (unknown, or wrong password). */
export interface AccountReply {
  readonly account: Account | null;
}

export interface CountFlowReply {
  readonly count: number;
}

export type RecordFlowReply = Record<string, never>;

/** The addresses and "@domain" wildcards granted to the account (empty when none or no account). */
export interface SenderGrantsReply {
  readonly grants: readonly string[];
}

/** 422: the backend's directory refused the question (DirectoryError); a definitive answer. */
export interface DirectoryErrorReply {
  readonly error: { readonly code: "exists" | "not-found" | "invalid"; readonly message: string };
}

// Validation of every cluster API body on receipt: requests on the backend, replies on the
// frontend (a member is authenticated, not infallible: a backend of another version or a bug
// must not put a malformed account into the SMTP policy). Unknown fields are dropped so that a
// newer member may add some. Accounts are written field by field so that nothing else the
// directory keeps (a password hash) can ever reach the wire.
import { z } from "zod";
import type { Account } from "../../directory/directory.js";
import { MAX_ADDRESS, MAX_PASSWORD } from "./types.js";

const address = z.string().min(1).max(MAX_ADDRESS);
const direction = z.enum(["in", "out"]);
const time = z.number().int().nonnegative();
const flow = z.object({ messages: z.number().int().positive(), periodSeconds: z.number().int().positive() });

export const lookupRequest = z.object({ address });
export const verifyPasswordRequest = z.object({ address, password: z.string().max(MAX_PASSWORD) });
export const accountRequest = z.object({ address });
export const countFlowRequest = z.object({ address, direction, since: time });
export const recordFlowRequest = z.object({ address, direction, at: time });
export const senderGrantsRequest = z.object({ account: address });

const account = z.object({
  address,
  localPart: z.string().max(MAX_ADDRESS),
  domain: z.string().max(MAX_ADDRESS),
  usedBytes: z.number().int(),
  createdAt: time,
  enabled: z.boolean(),
  quotaBytes: z.number().int().nonnegative().nullable(),
  maxMessageSize: z.number().int().positive().nullable(),
  outFlow: flow.nullable(),
  inFlow: flow.nullable(),
});

export const lookupReply = z.object({
  lookup: z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("account"), account }),
    z.object({
      kind: z.literal("alias"),
      alias: z.object({ address, targets: z.array(address).max(1000) }),
    }),
    z.object({ kind: z.literal("unknown") }),
    z.object({ kind: z.literal("remote") }),
  ]),
});
export const accountReply = z.object({ account: account.nullable() });
export const countFlowReply = z.object({ count: z.number().int().nonnegative() });
export const recordFlowReply = z.object({});
export const senderGrantsReply = z.object({ grants: z.array(address).max(10_000) });
export const directoryErrorReply = z.object({
  error: z.object({ code: z.enum(["exists", "not-found", "invalid"]), message: z.string().max(4096) }),
});

export function accountToWire(a: Account): Account {
  return {
    address: a.address,
    localPart: a.localPart,
    domain: a.domain,
    usedBytes: a.usedBytes,
    createdAt: a.createdAt,
    enabled: a.enabled,
    quotaBytes: a.quotaBytes,
    maxMessageSize: a.maxMessageSize,
    outFlow:
      a.outFlow === null ? null : { messages: a.outFlow.messages, periodSeconds: a.outFlow.periodSeconds },
    inFlow: a.inFlow === null ? null : { messages: a.inFlow.messages, periodSeconds: a.inFlow.periodSeconds },
  };
}

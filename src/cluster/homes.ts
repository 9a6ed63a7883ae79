// Home backends for new accounts in a static cluster. An account without a home has nowhere to
// be stored, so a frontend could only queue its mail until it expired; every account therefore
// gets its home when it is created: the one the operator names, else a live backend chosen here.
//
// The choice is the live backend with the fewest homed accounts, ties broken by the address's
// rendezvous order. Why not rendezvous alone: a static home never moves by itself, so after a
// backend is added, rendezvous would give it only its 1/N share of *new* accounts and the old
// backends would stay fuller forever; filling the emptiest backend evens storage out. The
// rendezvous tie-break keeps the choice a pure function of (address, live set, homes), so two
// nodes asked at once pick the same backend for the same address.
//
// Outcomes are values: a refusal says why, in words for an operator.
import { REPLIES, type Reply } from "../proto/reply.js";
import { rendezvousOrder } from "./rendezvous.js";
import { accountKey, type ClusterState, type Home, type MemberRecord } from "./state.js";

export type HomeChoice = { readonly node: string } | { readonly refused: string };

/** The live backend with the fewest homes, ties by rendezvous order of the address; null if none. */
export function chooseHomeBackend(
  address: string,
  live: readonly string[],
  homes: readonly Home[],
): string | null {
  const count = new Map<string, number>(live.map((id) => [id, 0]));
  for (const h of homes) {
    const n = count.get(h.node);
    if (n !== undefined) count.set(h.node, n + 1);
  }
  const order = rendezvousOrder(accountKey(address), live);
  let best: string | null = null;
  for (const id of order) {
    if (best === null || (count.get(id) ?? 0) < (count.get(best) ?? 0)) best = id;
  }
  return best;
}

export interface HomeRequest {
  readonly address: string;
  /** The operator's --home, if given. */
  readonly requested?: string | undefined;
  /** Ids of the backends up now. */
  readonly liveBackends: readonly string[];
}

/**
 * The home a new account should get, checked against the members the state knows. Call before
 * creating the account, record with state.setHome after.
 */
export async function pickHome(state: ClusterState, r: HomeRequest): Promise<HomeChoice> {
  if (r.requested !== undefined) {
    const members: MemberRecord[] = await state.members();
    const m = members.find((x) => x.id === r.requested);
    // A home may name a backend that has not started yet (as `cluster home` allows).
    if (m !== undefined && m.role !== "backend")
      return { refused: `${r.requested} is a ${m.role}, not a backend` };
    return { node: r.requested };
  }
  const node = chooseHomeBackend(r.address, r.liveBackends, await state.homes());
  return node === null
    ? { refused: `no live backend to be the home of ${accountKey(r.address)}; name one with --home NODE` }
    : { node };
}

/**
 * The inbound policy's check at RCPT in a static cluster: mail for an account without a home is
 * refused with a 4xx rather than queued until it expires (null: it has one).
 */
export function requireHome(state: Pick<ClusterState, "homeOf">): (address: string) => Promise<Reply | null> {
  return async (address) => ((await state.homeOf(address)) === null ? REPLIES.noHomeBackend : null);
}

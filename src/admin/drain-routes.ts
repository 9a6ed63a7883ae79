// Admin API routes for a drain (issue 16, src/cluster/drain): where every member stands, and the
// operator's drain and undrain of one member, served by any member (they write the shared state;
// the member named acts on it). A single server has no peer to hand its queue to: refused.
import type { DrainRefusal, DrainRow } from "../cluster/drain/ops.js";
import { ApiError, ok, type Route } from "../http/api.js";

export interface DrainOps {
  rows(): Promise<DrainRow[]>;
  drain(id: string): Promise<{ readonly row: DrainRow } | DrainRefusal>;
  undrain(id: string): Promise<{ readonly row: DrainRow } | DrainRefusal>;
}

const SINGLE = "a single server has no peers to hand its queue to: drain needs a cluster";

export function drainRoutes(ops: DrainOps | undefined): Route[] {
  const need = (): DrainOps => {
    if (ops === undefined) throw new ApiError(400, SINGLE);
    return ops;
  };
  const answer = (r: { readonly row: DrainRow } | DrainRefusal) => {
    if ("error" in r) throw new ApiError(r.kind === "unknown" ? 404 : 409, r.error);
    return ok(r.row);
  };
  return [
    {
      method: "GET",
      pattern: "cluster/drain",
      handler: async () => ok({ nodes: await need().rows() }),
    },
    {
      method: "POST",
      pattern: "cluster/nodes/:id/drain",
      handler: async (req) => answer(await need().drain(req.params["id"] ?? "")),
    },
    {
      method: "POST",
      pattern: "cluster/nodes/:id/undrain",
      handler: async (req) => answer(await need().undrain(req.params["id"] ?? "")),
    },
  ];
}

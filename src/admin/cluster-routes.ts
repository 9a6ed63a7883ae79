// Admin API routes for the Queue Processing settings of a cluster (Submit Messages and Remote
// Submit Log, per node and cluster-wide; src/cluster/submit/view.ts): what the CLI and the
// WebAdmin's panel read and change. Single servers have none of this (404: not a cluster member).
import { z } from "zod";
import type { SubmitView } from "../cluster/submit/view.js";
import { SUBMIT_LOG_LEVELS, SUBMIT_MODES } from "../cluster/submit/modes.js";
import { ApiError, ok, parseBody, type Route } from "../http/api.js";

const change = z.strictObject({
  node: z.string().min(1).max(128).optional(),
  submitMessages: z.enum(SUBMIT_MODES).optional(),
  submitLog: z.enum(SUBMIT_LOG_LEVELS).optional(),
});

export function clusterRoutes(view: () => SubmitView | null): Route[] {
  const joined = (): SubmitView => {
    const v = view();
    if (v === null) throw new ApiError(503, "this node has not joined the cluster yet");
    return v;
  };
  return [
    {
      method: "GET",
      pattern: "cluster/submit",
      handler: () => Promise.resolve(ok(joined().snapshot())),
    },
    {
      method: "PUT",
      pattern: "cluster/submit",
      handler: async (req) => {
        const c = parseBody(change, req.body);
        const r = await joined().change(c);
        if ("error" in r) throw new ApiError(400, r.error);
        return ok(r);
      },
    },
  ];
}

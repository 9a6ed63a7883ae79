// Admin API routes over the queue: list, show, hold, release, retry, reject, delete. Message
// ids come from the URL (untrusted): bounded and passed to the queue, which knows its own ids.
import { z } from "zod";
import type { Queue } from "../queue/types.js";
import { ApiError, ok, parseBody, type ApiRequest, type Route } from "../http/api.js";

const REJECT_DEFAULT = "Message rejected by the administrator";
const rejectBody = z.strictObject({
  text: z
    .string()
    .min(1)
    .max(400)
    .regex(/^[^\r\n]*$/, "one line")
    .optional(),
});

const idOf = (req: ApiRequest): string => {
  const id = req.params["id"] ?? "";
  if (id.length === 0 || id.length > 200) throw new ApiError(400, "invalid message id");
  return id;
};

const found = (done: boolean, id: string) => {
  if (!done) throw new ApiError(404, `no message ${id} in the queue`);
  return ok({ ok: true, id });
};

export function queueRoutes(queue: Queue, headers?: (id: string) => Promise<string | null>): Route[] {
  return [
    {
      method: "GET",
      pattern: "queue",
      handler: () => Promise.resolve(ok({ size: queue.size(), messages: queue.list() })),
    },
    {
      method: "GET",
      pattern: "queue/:id",
      handler: async (req) => {
        const id = idOf(req);
        const entry = queue.show(id);
        if (entry === null) throw new ApiError(404, `no message ${id} in the queue`);
        // The header section is read only on request, for one message: the list stays cheap.
        if (req.query.get("headers") === "1" && headers !== undefined)
          return ok({ ...entry, headers: await headers(id).catch(() => null) });
        return ok(entry);
      },
    },
    {
      method: "POST",
      pattern: "queue/:id/hold",
      handler: async (req) => found(await queue.hold(idOf(req)), idOf(req)),
    },
    {
      method: "POST",
      pattern: "queue/:id/release",
      handler: async (req) => found(await queue.release(idOf(req)), idOf(req)),
    },
    {
      method: "POST",
      pattern: "queue/:id/retry",
      handler: async (req) => found(await queue.retryNow(idOf(req)), idOf(req)),
    },
    {
      method: "POST",
      pattern: "queue/:id/reject",
      handler: async (req) => {
        const { text } = parseBody(rejectBody, req.body);
        return found(await queue.reject(idOf(req), text ?? REJECT_DEFAULT), idOf(req));
      },
    },
    {
      method: "DELETE",
      pattern: "queue/:id",
      handler: async (req) => found(await queue.delete(idOf(req)), idOf(req)),
    },
  ];
}

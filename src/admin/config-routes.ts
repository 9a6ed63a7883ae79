// Admin API routes for the managed settings (src/config/managed.ts): store a value cluster-wide
// or for one node, or remove it. Any node writes the shared settings table; each member applies
// the change when the state tells it (this one at once). What a node runs with is in its
// GET /api/settings answer (`managed`), per node through /api/nodes/ID/settings.
import { z } from "zod";
import { settingKey } from "../config/keys.js";
import { ConfigError, parseText } from "../config/load.js";
import { checkManagedValue, isManagedKey, MANAGED_KEYS } from "../config/managed.js";
import { checkManagedChange } from "./managed-change.js";
import { ApiError, ok, parseBody, type Route } from "../http/api.js";

export interface ConfigWriter {
  /** Known members and their roles (a single server: itself). */
  members(): Promise<{ id: string; role: string }[]>;
  /** Store (null: remove) the value; resolves once this node has applied it. */
  write(key: string, node: string | undefined, value: unknown): Promise<void>;
}

// `value` as JSON, or `text` as in the environment and `settings set` (lists comma-separated).
const change = z.strictObject({
  key: z.string().min(1).max(100),
  node: z.string().min(1).max(128).optional(),
  value: z.unknown().optional(),
  text: z.string().max(4096).optional(),
});

function fromText(key: string, text: string): unknown {
  try {
    const k = settingKey(key);
    // A key outside the managed set gets checkManagedValue's refusal.
    if (k === undefined || !isManagedKey(key)) return checkManagedValue(key, text);
    return parseText(k, text, "text");
  } catch (e) {
    if (e instanceof ConfigError) throw new ApiError(400, e.message);
    throw e;
  }
}

export function configRoutes(w: ConfigWriter): Route[] {
  const check = async (key: string, node: string | undefined, value: unknown): Promise<unknown> => {
    try {
      if (!isManagedKey(key)) checkManagedValue(key, value); // throws the "not managed" message
      let role: string | undefined;
      if (node !== undefined) {
        const member = (await w.members()).find((m) => m.id === node);
        if (member === undefined) throw new ApiError(404, `no member ${node}`);
        role = member.role;
      }
      if (value === null) return null;
      const v = checkManagedValue(key, value);
      checkManagedChange(key, v, node === undefined ? "cluster" : "node", role);
      return v;
    } catch (e) {
      if (e instanceof ConfigError) throw new ApiError(400, e.message);
      throw e;
    }
  };
  return [
    {
      method: "PUT",
      pattern: "config",
      handler: async (req) => {
        const body = parseBody(change, req.body);
        const given = body.text !== undefined ? fromText(body.key, body.text) : body.value;
        if (given === undefined)
          throw new ApiError(400, "value (JSON) or text: required (value null removes)");
        const value = await check(body.key, body.node, given);
        await w.write(body.key, body.node, value);
        return ok({
          key: body.key,
          node: body.node ?? null,
          value,
          applies: MANAGED_KEYS[body.key],
        });
      },
    },
  ];
}

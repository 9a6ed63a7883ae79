// Admin API routes about this node itself, for the WebAdmin (and any other client): its
// effective settings (secrets left out), live counters with the last hour per minute, the
// recent log records with tag / level / text filters, and the cluster as this node sees it.
import type { Settings } from "../config/settings.js";
import { LEVELS, TAGS, type Level, type Tag } from "../log/logger.js";
import { isTag, type LogRing } from "../log/ring.js";
import { ApiError, ok, type Route } from "../http/api.js";
import type { PromMetrics } from "./metrics.js";

/** The cluster as one node sees it (membership and the shared state). */
export interface ClusterView {
  readonly self: string;
  readonly role: "single" | "frontend" | "backend";
  readonly kind: "single" | "static" | "dynamic";
  members(): Promise<MemberSummary[]>;
}

export interface MemberSummary {
  readonly id: string;
  readonly role: string;
  readonly up: boolean;
  readonly smtp: string;
  readonly http: string;
  readonly channel: string | null;
  readonly submitMessages: string;
  readonly queueSize: number;
  readonly lastHeartbeat: number;
  readonly startedAt: number;
  /** draining or drained (cluster/drain); null: taking mail. */
  readonly drain: "draining" | "drained" | null;
}

const SECRET_KEY = /secret|password|token/i;

/** A copy of the settings with every secret-looking value replaced by whether it is set. */
export function redactSettings(value: unknown, key = ""): unknown {
  if (SECRET_KEY.test(key)) return value === "" || value === null ? "" : "(set)";
  if (Array.isArray(value)) return value.map((v) => redactSettings(v));
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactSettings(v, k)]));
  return value;
}

async function total(metrics: PromMetrics, name: string, label?: string): Promise<Record<string, number>> {
  const m = metrics.registry.getSingleMetric(name);
  const out: Record<string, number> = { total: 0 };
  if (m === undefined) return out;
  for (const v of (await m.get()).values) {
    out["total"] = (out["total"] ?? 0) + v.value;
    const l = label === undefined ? undefined : v.labels[label];
    if (typeof l === "string") out[l] = (out[l] ?? 0) + v.value;
  }
  return out;
}

const int = (q: URLSearchParams, key: string, min: number, max: number): number | undefined => {
  const v = q.get(key);
  if (v === null || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ApiError(400, `${key}: integer ${min}..${max}`);
  return n;
};

export function nodeRoutes(o: {
  settings: Settings;
  metrics: PromMetrics;
  queueSize: () => number;
  ring?: LogRing | undefined;
  cluster?: ClusterView | undefined;
  /** The managed settings as this node runs them (src/server/managed-settings.ts). */
  managed?: (() => readonly unknown[]) | undefined;
  startedAt: number;
  now: () => number;
}): Route[] {
  const self = o.cluster?.self ?? o.settings.node.id;
  return [
    {
      method: "GET",
      pattern: "settings",
      handler: () =>
        Promise.resolve(
          ok({
            node: self,
            role: o.settings.role,
            settings: redactSettings(o.settings),
            managed: o.managed?.() ?? [],
          }),
        ),
    },
    {
      method: "GET",
      pattern: "monitor",
      handler: async () =>
        ok({
          node: self,
          role: o.settings.role,
          startedAt: o.startedAt,
          queue: o.queueSize(),
          counters: {
            received: await total(o.metrics, "mailyard_messages_received_total", "source"),
            delivered: await total(o.metrics, "mailyard_recipients_delivered_total", "kind"),
            deferred: await total(o.metrics, "mailyard_recipients_deferred_total", "kind"),
            bounced: await total(o.metrics, "mailyard_recipients_bounced_total", "kind"),
            connections: await total(o.metrics, "mailyard_connections_total", "listener"),
          },
          minutes: o.metrics.minutes.points(),
        }),
    },
    {
      method: "GET",
      pattern: "logs",
      handler: (req) => {
        if (o.ring === undefined) throw new ApiError(404, "this node keeps no log records in memory");
        const tags: Tag[] = [];
        for (const t of (req.query.get("tags") ?? "").split(",").filter((s) => s !== "")) {
          const up = t.toUpperCase();
          if (!isTag(up)) throw new ApiError(400, `tags: unknown tag ${t} (one of ${TAGS.join(", ")})`);
          tags.push(up);
        }
        const level = int(req.query, "level", LEVELS.crash, LEVELS.all) as Level | undefined;
        const after = int(req.query, "after", 0, Number.MAX_SAFE_INTEGER);
        const limit = int(req.query, "limit", 1, 5000);
        const contains = (req.query.get("q") ?? "").slice(0, 200);
        const r = o.ring.query({
          tags,
          ...(level !== undefined ? { maxLevel: level } : {}),
          ...(after !== undefined ? { after } : {}),
          ...(limit !== undefined ? { limit } : {}),
          contains,
        });
        // The tags too, so the log viewer offers exactly the ones this node knows.
        return Promise.resolve(ok({ node: self, tags: TAGS, ...r }));
      },
    },
    {
      method: "GET",
      pattern: "cluster/members",
      handler: async () => {
        if (o.cluster === undefined)
          return ok({
            self,
            role: o.settings.role,
            kind: "single",
            members: [
              {
                id: self,
                role: o.settings.role,
                up: true,
                smtp: o.settings.smtp.listen[0] ?? "",
                http: o.settings.http.listen,
                channel: null,
                submitMessages: o.settings.cluster.submitMessages,
                queueSize: o.queueSize(),
                lastHeartbeat: o.now(),
                startedAt: o.startedAt,
                drain: null,
              },
            ],
          });
        return ok({ self, role: o.cluster.role, kind: o.cluster.kind, members: await o.cluster.members() });
      },
    },
  ];
}

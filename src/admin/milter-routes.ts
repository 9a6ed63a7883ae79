// Admin API route GET /api/milters (per node, so also /api/nodes/ID/milters): the node's
// milters as it runs them (smtp.milters with each entry's options resolved against the
// smtp.milter* defaults, src/inbound/milter/spec.ts) and, from its own metrics, how often each
// answered with which action and how often it failed. Milters run on single servers and
// frontends only; a backend answers its (unused) list with `runs: false`.
import type { Settings } from "../config/settings.js";
import { MILTER_EVENTS, milterSpecs } from "../inbound/milter/spec.js";
import { ok, type Route } from "../http/api.js";
import type { PromMetrics } from "./metrics.js";

export interface ShownMilter {
  readonly name: string;
  readonly events: readonly string[];
  readonly defaultAction: string;
  readonly connectTimeoutSeconds: number;
  readonly commandTimeoutSeconds: number;
  readonly contentTimeoutSeconds: number;
  /** Replies by action since the node started (mailyard_milter_actions_total). */
  readonly actions: Readonly<Record<string, number>>;
  /** Failures by reason since the node started (mailyard_milter_failures_total). */
  readonly failures: Readonly<Record<string, number>>;
}

/** A two-label counter as milter → second label → value. */
async function byMilter(
  metrics: PromMetrics,
  metric: string,
  label: string,
): Promise<Map<string, Record<string, number>>> {
  const out = new Map<string, Record<string, number>>();
  const m = metrics.registry.getSingleMetric(metric);
  if (m === undefined) return out;
  for (const v of (await m.get()).values) {
    const milter = v.labels["milter"];
    const what = v.labels[label];
    if (typeof milter !== "string" || typeof what !== "string") continue;
    const row = out.get(milter) ?? {};
    row[what] = (row[what] ?? 0) + v.value;
    out.set(milter, row);
  }
  return out;
}

export function milterRoutes(o: { settings: Settings; metrics: PromMetrics; self: string }): Route[] {
  return [
    {
      method: "GET",
      pattern: "milters",
      handler: async () => {
        const actions = await byMilter(o.metrics, "mailyard_milter_actions_total", "action");
        const failures = await byMilter(o.metrics, "mailyard_milter_failures_total", "reason");
        const milters: ShownMilter[] = milterSpecs(o.settings).map((s) => ({
          name: s.name,
          // In protocol order, not the Set's insertion order.
          events: MILTER_EVENTS.filter((e) => s.events.has(e)),
          defaultAction: s.defaultAction,
          connectTimeoutSeconds: s.connectTimeoutMs / 1000,
          commandTimeoutSeconds: s.commandTimeoutMs / 1000,
          contentTimeoutSeconds: s.contentTimeoutMs / 1000,
          actions: actions.get(s.name) ?? {},
          failures: failures.get(s.name) ?? {},
        }));
        return ok({
          node: o.self,
          role: o.settings.role,
          runs: o.settings.role !== "backend",
          defaultAction: o.settings.smtp.milterDefaultAction,
          milters,
        });
      },
    },
  ];
}

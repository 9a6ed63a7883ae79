// A queue of operator-view summaries only, for the admin API and CLI tests: it records what was
// asked of it and applies hold/release/delete/reject to its entries. begin/submit are not faked.
import type { Queue, QueueEntrySummary } from "../../src/queue/types.js";

/** A queue of summaries only; records what the API asked of it. */
export function fakeQueue(ids: string[]): Queue & { calls: string[] } {
  const entries = new Map<string, QueueEntrySummary>(
    ids.map((id) => [
      id,
      {
        id,
        from: "sender@example.test",
        arrival: Date.UTC(2026, 0, 1),
        size: 1234,
        state: "active",
        source: "smtp",
        recipients: [
          {
            address: "rcpt@remote.test",
            status: "pending",
            attempts: 2,
            nextAttempt: 0,
            lastReply: "451 4.7.1 later",
            lastRelay: "mx.remote.test",
          },
        ],
      },
    ]),
  );
  const calls: string[] = [];
  const act =
    (name: string, f?: (e: QueueEntrySummary) => QueueEntrySummary | null) => (id: string, text?: string) => {
      calls.push(text === undefined ? `${name} ${id}` : `${name} ${id} ${text}`);
      const e = entries.get(id);
      if (e === undefined) return Promise.resolve(false);
      const next = f?.(e);
      if (next === null) entries.delete(id);
      else if (next !== undefined) entries.set(id, next);
      return Promise.resolve(true);
    };
  return {
    calls,
    begin: () => Promise.reject(new Error("not in this fake")),
    submit: () => Promise.reject(new Error("not in this fake")),
    size: () => entries.size,
    list: () => [...entries.values()],
    show: (id) => entries.get(id) ?? null,
    hold: act("hold", (e) => ({ ...e, state: "held" })),
    release: act("release", (e) => ({ ...e, state: "active" })),
    delete: act("delete", () => null),
    retryNow: act("retry"),
    reject: act("reject", () => null),
  };
}

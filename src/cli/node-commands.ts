// `mailyard node drain|undrain|status`: the operator's drain (issue 16, src/cluster/drain) on the
// cluster state directly, so it runs on any machine that reaches the state (like `cluster
// members`), whichever member it names. drain waits, printing the queue as the node empties it,
// until the node says its queue is empty (exit 0), or returns at once with --no-wait; --timeout
// bounds the wait (exit 1, the drain goes on). A single server (no members in its state), an unknown
// node, or a node no live peer could take the queue of: exit 2, nothing changed.
import { askDrain, askUndrain, drainRows, type DrainRow } from "../cluster/drain/ops.js";
import type { Settings } from "../config/settings.js";
import { openClusterStateStore } from "../server/state-stores.js";
import { systemClock } from "../world/clock.js";
import { CliError, UsageError, type CliIo } from "./io.js";

interface NodeValues {
  readonly json?: boolean | undefined;
  readonly "no-wait"?: boolean | undefined;
  readonly timeout?: string | undefined;
}

/** How often the wait reads the state (the node's answer and its heartbeat's queue size). */
const POLL_MS = 500;

const SINGLE =
  "a single server has no peers to hand its queue to: drain needs a cluster (role frontend or backend)";

const line = (r: DrainRow): string =>
  `${r.id}\t${r.role}\t${r.up ? "up" : "down"}\t${r.drain ?? "taking mail"}\tqueue=${r.queue}`;

function timeoutMs(v: string | undefined): number | null {
  if (v === undefined) return null;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError("--timeout: a number of seconds above 0");
  return n * 1000;
}

export async function nodeCommand(
  settings: Settings,
  io: CliIo,
  verb: string,
  args: readonly string[],
  values: NodeValues,
): Promise<void> {
  const downAfterMs = settings.cluster.downAfterSeconds * 1000;
  const limit = timeoutMs(values.timeout);
  const state = await openClusterStateStore(settings, systemClock);
  try {
    const rows = await drainRows(state, systemClock.now(), downAfterMs);
    const [node] = args;
    // A single server never joins: its state has no members.
    if (rows.length === 0 && settings.role === "single") throw new CliError(`node ${verb}: ${SINGLE}`, 2);
    if (verb === "status") {
      const shown = node === undefined ? rows : rows.filter((r) => r.id === node);
      if (node !== undefined && shown.length === 0)
        throw new CliError(`node status: ${node} is not a member of this cluster`, 2);
      if (values.json === true) io.out(JSON.stringify(shown, null, 2));
      else if (shown.length === 0) io.out("no members");
      else for (const r of shown) io.out(line(r));
      return;
    }
    if (node === undefined) throw new UsageError(`usage: mailyard node ${verb} NODE`);
    const asked =
      verb === "drain"
        ? await askDrain(state, node, systemClock.now(), downAfterMs)
        : verb === "undrain"
          ? await askUndrain(state, node, systemClock.now(), downAfterMs)
          : null;
    if (asked === null) throw new UsageError(`unknown command: node ${verb}`);
    if ("error" in asked) throw new CliError(`node ${verb}: ${asked.error}`, 2);
    io.err(`node ${verb}: ${node} ${verb === "drain" ? "asked to drain" : "takes mail again"}`);
    if (verb === "undrain" || values["no-wait"] === true) {
      io.out(values.json === true ? JSON.stringify(asked.row, null, 2) : line(asked.row));
      return;
    }
    if (!asked.row.up) io.err(`node drain: ${node} is down; it drains when it starts again`);
    const done = await waitDrained(state, node, downAfterMs, limit, io);
    io.out(values.json === true ? JSON.stringify(done, null, 2) : `${line(done)}\t(queue empty)`);
  } finally {
    await state.close();
  }
}

async function waitDrained(
  state: Parameters<typeof drainRows>[0],
  node: string,
  downAfterMs: number,
  limit: number | null,
  io: CliIo,
): Promise<DrainRow> {
  const start = systemClock.now();
  let said = "";
  for (;;) {
    const row = (await drainRows(state, systemClock.now(), downAfterMs)).find((r) => r.id === node);
    if (row === undefined) throw new CliError(`node drain: ${node} left the cluster`);
    if (row.drain === null) throw new CliError(`node drain: ${node} was undrained meanwhile`);
    if (row.drain === "drained") return row;
    const now = `${row.up ? "" : "down, "}${row.queue} in queue`;
    if (now !== said) io.err(`node drain: ${node} draining, ${now}`);
    said = now;
    if (limit !== null && systemClock.now() - start >= limit)
      throw new CliError(
        `node drain: ${node} still draining after ${limit / 1000} s (${now}); the drain goes on`,
      );
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

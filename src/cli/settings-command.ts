// `mailyard settings get|set`: the Queue Processing settings of a cluster (Submit Messages and
// Remote Submit Log), per node (--node) or cluster-wide. Written into the cluster state, which
// every member reads on each heartbeat, so a change applies live; the same view as the admin
// API's /api/cluster/submit (src/cluster/submit/view.ts), judged from the state file here.
import { openSqliteClusterState } from "../cluster/sqlite-state.js";
import { createSubmitView, type SubmitSnapshot } from "../cluster/submit/view.js";
import type { MemberView } from "../cluster/membership.js";
import { statePath } from "../config/paths.js";
import type { Settings } from "../config/settings.js";
import { systemClock } from "../world/clock.js";
import { CliError, UsageError, type CliIo } from "./io.js";

const KEYS = { "cluster.submitMessages": "submitMessages", "cluster.submitLog": "submitLog" } as const;
type Key = keyof typeof KEYS;
const isKey = (k: string): k is Key => k in KEYS;

interface SettingsValues {
  readonly node?: string | undefined;
  readonly json?: boolean | undefined;
}

export async function settingsCommand(
  settings: Settings,
  io: CliIo,
  verb: string,
  args: readonly string[],
  values: SettingsValues,
): Promise<void> {
  const [key = "", value] = args;
  if (key !== "" && !isKey(key))
    throw new UsageError(`settings: unknown key ${key} (keys: ${Object.keys(KEYS).join(", ")})`);
  const state = openSqliteClusterState(statePath(settings), systemClock);
  try {
    const now = systemClock.now();
    const members: MemberView[] = (await state.members()).map((m) => ({
      ...m,
      up: !m.left && now - m.lastHeartbeat <= settings.cluster.downAfterSeconds * 1000,
    }));
    let current = new Map((await state.listSettings()).map((s) => [s.key, s.value]));
    const view = createSubmitView({
      selfId: "",
      kind: settings.cluster.kind,
      membership: {
        all: () => members,
        settings: () => current,
        onChange: () => () => undefined,
        refresh: async () => {
          current = new Map((await state.listSettings()).map((s) => [s.key, s.value]));
        },
      },
      state,
      configMode: "default",
      configLog: settings.cluster.submitLog,
      logs: { setLevel: () => undefined },
    });
    if (verb === "set") {
      if (value === undefined) throw new UsageError("usage: mailyard settings set KEY VALUE [--node ID]");
      const r = await view.change({ node: values.node, [KEYS[key as Key]]: value });
      if ("error" in r) throw new CliError(`settings set: ${r.error}`);
      io.out(`${key}${values.node !== undefined ? `@${values.node}` : ""} = ${value}`);
      return;
    }
    print(io, view.snapshot(), key === "" ? null : key, values);
  } finally {
    await state.close();
  }
}

function print(io: CliIo, snap: SubmitSnapshot, key: Key | null, values: SettingsValues): void {
  if (values.node !== undefined) {
    const m = snap.members.find((x) => x.id === values.node);
    if (m === undefined) throw new CliError(`settings get: ${values.node} is not a member of this cluster`);
    if (values.json === true) return io.out(JSON.stringify(m, null, 2));
    if (key !== "cluster.submitLog")
      io.out(`cluster.submitMessages = ${m.submitMessages} (in effect: ${m.effective})`);
    if (key !== "cluster.submitMessages") io.out(`cluster.submitLog = ${m.submitLog}`);
    return;
  }
  if (values.json === true) return io.out(JSON.stringify(snap, null, 2));
  if (key !== "cluster.submitLog")
    io.out(`cluster.submitMessages = ${snap.default.submitMessages} (cluster default)`);
  if (key !== "cluster.submitMessages")
    io.out(`cluster.submitLog = ${snap.default.submitLog ?? "(each node's own)"} (cluster default)`);
  for (const m of snap.members)
    io.out(
      `${m.id}\t${m.role}\t${m.live ? "up" : "down"}\tsubmitMessages=${m.submitMessages} (${m.effective})\tsubmitLog=${m.submitLog}`,
    );
}

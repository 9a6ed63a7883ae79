// `mailyard settings get|set|unset`: the Queue Processing settings of a cluster (Submit Messages
// and Remote Submit Log) and the managed settings (src/config/managed.ts: SMTP, queue, local
// delivery), per node (--node) or cluster-wide. Written into the state's settings table, which
// every member follows, so a change applies live (or, for some keys, at the node's restart);
// the same checks as the admin API (/api/cluster/submit, /api/config), judged from the state here.
import { createSubmitView, type SubmitSnapshot } from "../cluster/submit/view.js";
import type { MemberView } from "../cluster/membership.js";
import type { Settings } from "../config/settings.js";
import { ConfigError, parseText } from "../config/load.js";
import { settingKey } from "../config/keys.js";
import { checkManagedValue, isManagedKey, MANAGED_KEYS, storedKey, storedValues } from "../config/managed.js";
import type { ClusterState } from "../cluster/state.js";
import { checkManagedChange } from "../admin/managed-change.js";
import { openClusterStateStore } from "../server/state-stores.js";
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
  if (verb === "unset" && !isManagedKey(key))
    throw new UsageError(`settings unset: ${key} is not a managed setting (set it back with settings set)`);
  if (key !== "" && !isKey(key) && !isManagedKey(key))
    throw new UsageError(
      `settings: unknown key ${key} (keys: ${[...Object.keys(KEYS), ...Object.keys(MANAGED_KEYS)].join(", ")})`,
    );
  const state = await openClusterStateStore(settings, systemClock);
  try {
    if (isManagedKey(key)) return await managedCommand(settings, state, io, verb, key, value, values);
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
        onSettingsChange: () => () => undefined,
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
    print(io, view.snapshot(), key === "" ? null : (key as Key), values);
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

async function managedCommand(
  settings: Settings,
  state: ClusterState,
  io: CliIo,
  verb: string,
  key: string,
  text: string | undefined,
  values: SettingsValues,
): Promise<void> {
  const node = values.node;
  const label = `${key}${node !== undefined ? `@${node}` : ""}`;
  if (verb === "get") {
    const stored = storedValues(new Map((await state.listSettings()).map((r) => [r.key, r.value]))).filter(
      (s) => s.key === key && (node === undefined || s.node === node),
    );
    if (values.json === true) return io.out(JSON.stringify(stored, null, 2));
    if (stored.length === 0) io.out(`${label}: nothing stored (the nodes' config applies)`);
    for (const s of stored)
      io.out(`${s.key}${s.node !== null ? `@${s.node}` : ""} = ${JSON.stringify(s.value)}`);
    return;
  }
  let role: string | undefined;
  if (node !== undefined) {
    const member = (await state.members()).find((m) => m.id === node);
    if (member === undefined && node !== settings.node.id)
      throw new CliError(`settings ${verb}: ${node} is not a member of this cluster`);
    role = member?.role ?? settings.role;
  }
  if (verb === "unset") {
    await state.setSetting(storedKey(key, node), null);
    io.out(`${label} unset (the config applies)`);
    return;
  }
  if (text === undefined) throw new UsageError("usage: mailyard settings set KEY VALUE [--node ID]");
  try {
    const v = checkManagedValue(key, parseText(settingKey(key)!, text, "settings set"));
    checkManagedChange(key, v, node === undefined ? "cluster" : "node", role);
    await state.setSetting(storedKey(key, node), JSON.stringify(v));
    io.out(
      `${label} = ${JSON.stringify(v)} (${MANAGED_KEYS[key] === "live" ? "applies live" : "applies when each node restarts"})`,
    );
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(`settings set: ${e.message}`);
    throw e;
  }
}

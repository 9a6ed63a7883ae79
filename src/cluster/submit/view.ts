// This node's live view of Submit Messages and Remote Submit Log (modes.ts): its own effective
// mode, the members that take remote submissions (the seed's list the Dynamic Cluster
// Controller "collects and distributes": every member derives it from the shared state,
// which membership.ts keeps current through change notifications), the SUBMIT log level
// applied as it changes, and the operator's reads and writes (admin API, CLI, WebAdmin) of both settings, per node and cluster-wide.
import type { LogSink } from "../../log/logger.js";
import type { Membership, MemberView } from "../membership.js";
import type { ClusterState, Role } from "../state.js";
import {
  clusterDefaultMode,
  isSubmitLogLevel,
  isSubmitMode,
  memberLog,
  memberMode,
  offersSubmit,
  resolveMode,
  settingKey,
  SUBMIT_LOG_KEY,
  SUBMIT_LOG_LEVELS,
  SUBMIT_MODE_KEY,
  SUBMIT_MODES,
  submitLogLevel,
  type ClusterKind,
  type EffectiveMode,
  type SubmitLogLevel,
  type SubmitMode,
} from "./modes.js";

export interface SubmitMemberView {
  readonly id: string;
  readonly role: Role;
  readonly live: boolean;
  /** The member's own setting (may be "default"). */
  readonly submitMessages: SubmitMode;
  /** After "default" is resolved. */
  readonly effective: EffectiveMode;
  readonly submitLog: SubmitLogLevel;
  readonly queueSize: number;
  readonly smtp: string;
  readonly http: string;
}

export interface SubmitSnapshot {
  readonly kind: ClusterKind;
  readonly default: { readonly submitMessages: SubmitMode; readonly submitLog: SubmitLogLevel | null };
  readonly members: readonly SubmitMemberView[];
}

export interface SubmitChange {
  /** Absent: the cluster-wide default. */
  readonly node?: string | undefined;
  readonly submitMessages?: string | undefined;
  readonly submitLog?: string | undefined;
}

export interface SubmitView {
  /** This node's Submit Messages now. */
  mode(): EffectiveMode;
  /** Live members other than this one that are Locally for Others, fewest queued first. */
  offering(): MemberView[];
  snapshot(): SubmitSnapshot;
  /** Validates and stores a change; every member picks it up at its next beat (this one at once). */
  change(c: SubmitChange): Promise<SubmitSnapshot | { error: string }>;
  stop(): void;
}

export function createSubmitView(o: {
  readonly selfId: string;
  readonly kind: ClusterKind;
  readonly membership: Pick<Membership, "all" | "settings" | "onChange" | "onSettingsChange" | "refresh">;
  readonly state: Pick<ClusterState, "setSetting">;
  /** This node's config values (used when the cluster settings hold nothing for it). */
  readonly configMode: SubmitMode;
  readonly configLog: SubmitLogLevel;
  /** Where the SUBMIT level is applied. */
  readonly logs: Pick<LogSink, "setLevel">;
}): SubmitView {
  const { membership, kind } = o;
  const settings = (): ReadonlyMap<string, string> => membership.settings();
  const own = (m: MemberView): SubmitMode =>
    memberMode(settings(), m.id, m.id === o.selfId ? o.configMode : m.submitMessages);
  const offers = (m: MemberView): boolean =>
    offersSubmit({ id: m.id, role: m.role, mode: own(m) }, clusterDefaultMode(settings()), kind);

  const offering = (): MemberView[] =>
    membership
      .all()
      .filter((m) => m.up && m.id !== o.selfId && m.smtp !== "" && offers(m))
      .sort((a, b) => a.queueSize - b.queueSize || a.id.localeCompare(b.id));

  const effectiveOf = (m: MemberView): EffectiveMode => {
    const others = membership.all().some((x) => x.up && x.id !== m.id && x.smtp !== "" && offers(x));
    return resolveMode(
      { id: m.id, role: m.role, mode: own(m) },
      clusterDefaultMode(settings()),
      kind,
      others,
    );
  };

  const self = (): MemberView | undefined => membership.all().find((m) => m.id === o.selfId);

  const logOf = (id: string): SubmitLogLevel => memberLog(settings(), id, o.configLog);

  let applied: SubmitLogLevel | null = null;
  const applyLog = (): void => {
    const level = logOf(o.selfId);
    if (level === applied) return;
    applied = level;
    o.logs.setLevel("SUBMIT", submitLogLevel(level));
  };
  applyLog();
  const offMembers = membership.onChange(applyLog);
  const offSettings = membership.onSettingsChange(applyLog);

  const snapshot = (): SubmitSnapshot => {
    const s = settings();
    const all = s.get(SUBMIT_LOG_KEY);
    return {
      kind,
      default: {
        submitMessages: clusterDefaultMode(s),
        submitLog: all !== undefined && isSubmitLogLevel(all) ? all : null,
      },
      members: membership
        .all()
        .filter((m) => !m.left)
        .map((m) => ({
          id: m.id,
          role: m.role,
          live: m.up,
          submitMessages: own(m),
          effective: effectiveOf(m),
          submitLog: logOf(m.id),
          queueSize: m.queueSize,
          smtp: m.smtp,
          http: m.http,
        })),
    };
  };

  return {
    mode() {
      const me = self();
      if (me === undefined) {
        // Not joined yet: nobody to submit to.
        const r = resolveMode({ id: o.selfId, role: "backend", mode: o.configMode }, "default", kind, false);
        return r === "Remotely" ? "Locally" : r;
      }
      return effectiveOf(me);
    },
    offering,
    snapshot,
    async change(c) {
      if (c.node !== undefined && !membership.all().some((m) => m.id === c.node))
        return { error: `node ${JSON.stringify(c.node)} is not a member of this cluster` };
      if (c.submitMessages === undefined && c.submitLog === undefined)
        return { error: "nothing to change: give submitMessages and/or submitLog" };
      if (c.submitMessages !== undefined && !isSubmitMode(c.submitMessages))
        return { error: `submitMessages must be one of: ${SUBMIT_MODES.join(", ")}` };
      if (c.submitLog !== undefined && !isSubmitLogLevel(c.submitLog))
        return { error: `submitLog must be one of: ${SUBMIT_LOG_LEVELS.join(", ")}` };
      if (c.submitMessages !== undefined)
        await o.state.setSetting(settingKey(SUBMIT_MODE_KEY, c.node), c.submitMessages);
      if (c.submitLog !== undefined)
        await o.state.setSetting(settingKey(SUBMIT_LOG_KEY, c.node), c.submitLog);
      await membership.refresh();
      return snapshot();
    },
    stop() {
      offMembers();
      offSettings();
    },
  };
}

// How a frontend or a backend stands in its cluster (DESIGN.md §1): what a member adds to the
// parts every role is built from (compose.ts). Membership (register, heartbeat, see the others),
// placement and the delivery channel client aimed by it, the homes or owners of accounts, the
// Submit Messages path with its XSUBMIT verbs, and the cluster's part of /healthz and the admin
// API. What differs between the two roles is in frontend.ts and backend.ts.
//
// A member knows its own addresses, and so can join, only once its listeners are bound; the
// queue starts before them. Until it has joined, deliveries wait (delivery/gated.ts) rather than
// fail for want of members, and the inbound policy of a frontend sees no backend and answers 4xx.
import { join, resolve } from "node:path";
import type { MemberSummary } from "../admin/node-routes.js";
import { createChannelClient } from "../cluster/channel/client.js";
import { channelRefusal } from "../cluster/channel/carries.js";
import { channelTargetFor } from "../cluster/channel-target.js";
import { memberPlacement } from "../cluster/account-placement.js";
import { checkMemberSettings } from "../cluster/member-settings.js";
import { startMembership, type Membership, type MemberView } from "../cluster/membership.js";
import { createPlacement, storesHere } from "../cluster/placement.js";
import type { Role } from "../cluster/state.js";
import { submitVia } from "../cluster/submit/via.js";
import { createSubmitView, type SubmitView } from "../cluster/submit/view.js";
import { memberTlsFor } from "../cluster/tls/member-tls.js";
import { withSecretFile } from "../config/secret-file.js";
import { gatedDeliverer } from "../delivery/gated.js";
import type { Submitter } from "../queue/submit.js";
import { advertised } from "./listeners.js";
import type { RoleContext, RoleParts, Standing } from "./role-parts.js";
import { createSubmitPath } from "./submit-path.js";
import { memberClientOptions } from "../cluster/submit/client-options.js";
import { createShadows } from "../cluster/shadow/part.js";
import { createDrainer, type Drainer } from "../cluster/drain/drainer.js";
import { drainState } from "../cluster/drain/keys.js";
import { askDrain, askUndrain, drainRows } from "../cluster/drain/ops.js";
import { submitToMember } from "../cluster/submit/client.js";
import { REPLIES } from "../proto/reply.js";

/** Messages a draining member hands on at once. */
const DRAIN_PARALLEL = 4;

export interface Joined {
  /** This node's view of the cluster (tests and health read it). */
  readonly membership: Membership;
  /** Submit Messages and Remote Submit Log as this node sees them. */
  readonly submitView: SubmitView;
}

const memberSummary = (m: MemberView, settings: ReadonlyMap<string, string>): MemberSummary => ({
  id: m.id,
  role: m.role,
  up: m.up,
  smtp: m.smtp,
  http: m.http,
  channel: m.channel,
  submitMessages: m.submitMessages,
  queueSize: m.queueSize,
  lastHeartbeat: m.lastHeartbeat,
  startedAt: m.startedAt,
  drain: drainState(settings, m.id),
});

/** A cluster member in `role`, whose own parts `parts` makes (startFrontendRole, startBackendRole). */
export function clusterMember(
  role: Exclude<Role, "single">,
  parts: (ctx: RoleContext) => RoleParts,
): Standing<Joined> {
  return {
    tag: "CLUSTER",
    prepare: async (settings) => {
      settings = await withSecretFile(settings);
      checkMemberSettings(settings);
      return settings;
    },
    check: checkMemberSettings,
    open: (ctx, teardown) => {
      const { settings, world, state, managed } = ctx;
      const { clock } = world;
      const clusterLog = ctx.log.for("CLUSTER");
      let membership: Membership | null = null;
      let submitView: SubmitView | null = null;
      let submitter: Submitter | null = null;
      const members = { live: (r?: Role) => membership?.live(r) ?? [] };
      // Mutual TLS on every link to the other members (cluster.tls; dataDir/tls/).
      const memberTls = memberTlsFor(settings.cluster.tls, {
        dir: join(resolve(settings.dataDir), "tls"),
        nodeId: settings.node.id,
        clock,
        log: clusterLog,
        reloadMs: settings.cluster.tlsReloadSeconds * 1000,
      });
      if (memberTls !== null) teardown.add(() => memberTls.stop());
      // A draining member takes no mail: no shadows, no hand-over go there (cluster/drain).
      const draining = (id: string): boolean =>
        membership !== null && drainState(membership.settings(), id) !== null;
      const takers = (): MemberView[] =>
        members.live(role).filter((m) => m.id !== settings.node.id && m.smtp !== "" && !draining(m.id));
      let drainer: Drainer | null = null;
      const placement = createPlacement({
        kind: settings.cluster.kind,
        state,
        membership: members,
        selfId: settings.node.id,
        clock,
      });
      const channelClient = createChannelClient({
        secret: settings.cluster.secret,
        nodeId: settings.node.id,
        hostname: settings.hostname,
        dialer: world.dialer,
        clock,
        log: ctx.log.for("DELIVERY"),
        timeoutMs: settings.channel.timeoutSeconds * 1000,
        idleKeepMs: settings.channel.idleKeepSeconds * 1000,
        liveCheckMs: settings.cluster.heartbeatSeconds * 1000,
        memberTls,
        target: channelTargetFor(placement),
      });
      teardown.add(() => channelClient.close());
      // Copies of every queue file on a live peer of this role before the 250 (issue 16).
      const shadows = createShadows({
        settings,
        memberTls,
        dataDir: resolve(settings.dataDir),
        clock,
        dialer: world.dialer,
        peers: () => members.live(role).filter((m) => !draining(m.id)),
        state,
        log: ctx.log.for("QUEUE"),
        unprotected: () => ctx.metrics.shadowUnprotected?.(),
        promoted: (n) => ctx.metrics.shadowsPromoted?.(n),
        duplicates: (n) => ctx.metrics.takeoverDuplicates?.(n),
      });
      teardown.add(() => shadows.close());
      let joined = (): void => undefined;
      const ready = new Promise<void>((r) => (joined = r));

      // Homes (static) or owners (dynamic), for the account routes and the RCPT check.
      const accounts = memberPlacement({
        kind: settings.cluster.kind,
        state,
        clock,
        liveBackends: () => members.live("backend").map((m) => m.id),
        log: clusterLog,
      });
      return {
        parts: (base) => parts({ ...base, state, members, placement, channelClient, memberTls }),
        memberTls,
        // Deliveries wait until the node has joined (see the header).
        deliverer: (d) => gatedDeliverer(d, ready),
        spool: shadows.wrap,
        // Deliveries still waiting to join go ahead (and defer), so the queue can stop.
        release: () => joined(),
        beforeQueue: async (queue) => {
          const client = memberClientOptions(settings, world, memberTls);
          drainer = createDrainer({
            selfId: settings.node.id,
            state,
            queue,
            peers: takers,
            send: (to, draft, message) => submitToMember(client, to, draft, message),
            clock,
            intervalMs: settings.cluster.heartbeatSeconds * 1000,
            parallel: DRAIN_PARALLEL,
            log: ctx.log.for("QUEUE"),
          });
          await drainer.init();
        },
        closed: () => (drainer?.refusing() === true ? REPLIES.nodeDraining : null),
        submitPath: ({ queue, milters }) => {
          const path = createSubmitPath({
            settings,
            queue,
            milters,
            world,
            log: ctx.log,
            view: () => submitView,
            memberVerbs: shadows.verbs,
            memberTls,
          });
          submitter = path.submitter;
          return path;
        },
        sources: { stores: storesHere(placement) },
        inbound: {
          ...(accounts.storable !== undefined ? { storable: accounts.storable } : {}),
          // Local mail may cross the delivery channel on any member: its rule applies before the 250.
          carries: (params) => channelRefusal(params.body),
          // Cluster TLS: a backend relaying with smtp.forwardTo = * proves itself by certificate.
          ...(memberTls !== null
            ? { relayMember: (id: string) => members.live("backend").some((m) => m.id === id) }
            : {}),
          submitVia: submitVia(
            () => submitView,
            () => submitter,
          ),
        },
        admin: {
          ...accounts.routes,
          submit: () => submitView,
          drain: {
            rows: () => drainRows(state, clock.now(), settings.cluster.downAfterSeconds * 1000),
            drain: async (id) => {
              const r = await askDrain(state, id, clock.now(), settings.cluster.downAfterSeconds * 1000);
              await membership?.refresh();
              return r;
            },
            undrain: async (id) => {
              const r = await askUndrain(state, id, clock.now(), settings.cluster.downAfterSeconds * 1000);
              await membership?.refresh();
              return r;
            },
          },
          cluster: {
            self: settings.node.id,
            role,
            kind: settings.cluster.kind,
            secret: settings.cluster.secret,
            memberTls,
            members: () =>
              Promise.resolve(
                (membership?.all() ?? []).map((m) => memberSummary(m, membership?.settings() ?? new Map())),
              ),
            memberHttp: async (id) => {
              const known =
                membership?.all().find((m) => m.id === id) ??
                (await state.members()).find((m) => m.id === id);
              return known === undefined || known.http === "" ? null : known.http;
            },
          },
        },
        nodes: async () => (await state.members()).map((m) => ({ id: m.id, role: m.role })),
        health: () => ({
          ok: membership !== null,
          detail: {
            live: members.live().map((m) => m.id),
            ...(drainer !== null ? { drain: drainer.status() } : {}),
            // This node's own view of Submit Messages (the cluster API shows the stored
            // settings; this is what the node acts on, once it has picked a change up).
            ...(submitView !== null
              ? { submit: { mode: submitView.mode(), offering: submitView.offering().map((m) => m.id) } }
              : {}),
          },
        }),
        join: async (at) => {
          const self = await startMembership({
            state,
            self: {
              id: settings.node.id,
              role,
              smtp: at.smtp === undefined ? "" : advertised(settings, at.smtp),
              // What a balancer in front (lb-config haproxy) forwards port 465 to.
              submissions: at.submissions === undefined ? "" : advertised(settings, at.submissions),
              http: advertised(settings, at.http),
              channel: at.channel === null ? null : advertised(settings, at.channel),
              submitMessages: settings.cluster.submitMessages,
              startedAt: clock.now(),
            },
            clock,
            heartbeatMs: settings.cluster.heartbeatSeconds * 1000,
            downAfterMs: settings.cluster.downAfterSeconds * 1000,
            log: clusterLog,
            queueSize: at.queueSize,
          });
          // Leave first at a stop, so the others stop sending here while the node finishes.
          teardown.add(() => self.stop());
          membership = self;
          const view = createSubmitView({
            selfId: settings.node.id,
            kind: settings.cluster.kind,
            membership: self,
            state,
            configMode: settings.cluster.submitMessages,
            configLog: settings.cluster.submitLog,
            logs: ctx.log,
          });
          teardown.add(() => view.stop());
          submitView = view;
          // The heartbeat re-reads the settings too: a change notification missed is caught there.
          self.onSettingsChange((rows) => managed.update(rows));
          self.onChange((all) => {
            const up = all.filter((m) => m.up).map((m) => `${m.id}(${m.role})`);
            clusterLog.major("members changed", { up: up.join(","), known: all.length });
          });
          self.onChange(() => shadows.resync());
          const drains = drainer;
          if (drains !== null) {
            self.onSettingsChange((rows) => drains.update(rows));
            drains.update(self.settings());
            drains.start();
            teardown.add(() => drains.stop());
          }
          shadows.resync();
          shadows.startTakeover({
            queue: at.queue,
            members: () => self.all(),
            intervalMs: settings.cluster.heartbeatSeconds * 1000,
          });
          joined();
          return { membership: self, submitView: view };
        },
      };
    },
  };
}

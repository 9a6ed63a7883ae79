// One Mailyard node in a cluster role (frontend or backend; DESIGN.md §1), from the parts every
// role shares (node-parts.ts) and what a cluster adds. What both cluster roles share
// is wired here: the shared state file (directory and cluster state), membership (register,
// heartbeat, see the others), placement, the delivery channel client, the durable queue, the
// SMTP listeners and the admin HTTP server. What differs is in frontend.ts and backend.ts.
//
// Start order matters. The queue is started before any listener (it owns the spool), but the
// node only knows its own addresses, and so can join the cluster, once its listeners are bound.
// Until it has joined, deliveries wait (delivery/gated.ts) rather than fail for want of members, and the
// inbound policy of a frontend sees no backend and answers 4xx.
import type http from "node:http";
import type { AccountHomes, AccountOwners } from "../admin/directory-routes.js";
import { createAdminServer, loadOrCreateAdminToken, type AdminServer } from "../admin/http.js";
import { createPromMetrics } from "../admin/metrics.js";
import { createChannelClient } from "../cluster/channel/client.js";
import { channelTargetFor } from "../cluster/channel-target.js";
import { channelRefusal } from "../cluster/channel/carries.js";
import { startMembership, type Membership } from "../cluster/membership.js";
import { createPlacement, type Placement } from "../cluster/placement.js";
import { checkMemberSettings } from "../cluster/member-settings.js";
import { requireHome } from "../cluster/homes.js";
import { withSecretFile } from "../config/secret-file.js";
import type { Role } from "../cluster/state.js";
import type { Settings } from "../config/settings.js";
import { createInboundHandler } from "../inbound/handler.js";
import { createAuthentication } from "../inbound/authentication.js";
import { parseHostPort } from "../proto/hostport.js";
import type { Queue } from "../queue/types.js";
import { gatedDeliverer } from "../delivery/gated.js";
import type { Submitter } from "../queue/submit.js";
import { loadOrCreateTls } from "../smtp/server/tls.js";
import { leaseOwners, staticHomes } from "./account-placement.js";
import { startBackendRole } from "./backend.js";
import { startFrontendRole } from "./frontend.js";
import { advertised, bindSmtpListeners, type Bound, type SmtpListeners } from "./listeners.js";
import type { NodeOptions, RunningNode } from "./start-options.js";
import { Teardown } from "./teardown.js";
import { managedConfigApi, openManagedSettings } from "./managed-settings.js";
import type { RoleContext, RoleParts } from "./role-parts.js";
import { startSources, type RunningSources } from "./sources.js";
import type { MemberSummary } from "../admin/node-routes.js";
import type { MemberView } from "../cluster/membership.js";
import { spoolHeaders } from "./webadmin.js";
import { createSubmitView, type SubmitView } from "../cluster/submit/view.js";
import { createSubmitPath } from "./submit-path.js";
import { openShadows } from "../cluster/shadow/part.js";
import { createNodeQueue, deliveryRules, openNodeBase } from "./node-parts.js";
import { openDkimStoreFor, openRpopStoreFor, openRuleStoreFor, openStateStores } from "./state-stores.js";
import { milterOptions } from "./milter-wiring.js";
import { withMilters } from "../inbound/milters.js";
import { createDkimSigner } from "../delivery/dkim/sign.js";
import { withQueueRules } from "../queue/rules-gate.js";
import { withMailboxUsage } from "../delivery/mailbox-usage.js";

const memberSummary = (m: MemberView): MemberSummary => ({
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
});

export interface ClusterNode extends RunningNode {
  readonly role: Exclude<Role, "single">;
  /** This node's view of the cluster (tests and health read it). */
  readonly membership: Membership;
  /** The delivery channel listener; backends only. */
  readonly channel: Bound | null;
  /** The operator's view of this node's queue (what the admin API serves). */
  readonly queue: Queue;
  /** The Submit Messages path every message source of this node uses. */
  readonly submitter: Submitter;
  /** Submit Messages and Remote Submit Log as this node sees them. */
  readonly submitView: SubmitView;
}

export async function startClusterNode(settings: Settings, opts: NodeOptions): Promise<ClusterNode> {
  // A start that fails half-way stops what it had started (teardown.ts).
  const teardown = new Teardown();
  try {
    return await wireClusterNode(settings, opts, teardown);
  } catch (e) {
    await teardown.run(opts.log.for("SYSTEM"));
    throw e;
  }
}

async function wireClusterNode(
  settings: Settings,
  opts: NodeOptions,
  teardown: Teardown,
): Promise<ClusterNode> {
  if (settings.role === "single") throw new Error("startClusterNode: role single is startNode's");
  const role = settings.role;
  settings = await withSecretFile(settings);
  checkMemberSettings(settings);
  const { world, gates, webadmin, sys, dataDir, log } = await openNodeBase(
    settings,
    opts,
    teardown,
    "CLUSTER",
  );
  opts = { ...opts, log };
  const { clock } = world;
  const clusterLog = opts.log.for("CLUSTER");

  // A frontend opens the directory only for the admin API (operators may manage accounts through
  // any node); its SMTP policy and deliveries ask the backends.
  const { directory, state } = await openStateStores(settings, clock, clusterLog);
  teardown.add(() => directory.close());
  teardown.add(() => state.close());
  // Settings changed from the WebAdmin or `mailyard settings set` (the state's settings table):
  // everything below is wired with them.
  const managed = await openManagedSettings({
    loaded: settings,
    pinned: opts.pinned ?? new Set(),
    nodeId: settings.node.id,
    state,
    log: opts.log.for("ADMIN"),
  });
  teardown.add(() => managed.stop());
  settings = managed.settings;
  checkMemberSettings(settings);

  let membership: Membership | null = null;
  const members = { live: (r?: Role) => membership?.live(r) ?? [] };
  const placement: Placement = createPlacement({
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
    log: opts.log.for("DELIVERY"),
    timeoutMs: settings.channel.timeoutSeconds * 1000,
    idleKeepMs: settings.channel.idleKeepSeconds * 1000,
    target: channelTargetFor(placement),
  });
  teardown.add(() => channelClient.close());

  // Rules live in the shared state file: every member reads the same server, cluster, domain
  // and account rules. What account rules generate goes through this node's Submitter.
  const ruleStore = await openRuleStoreFor(settings, () => clock.now(), clusterLog);
  teardown.add(() => ruleStore.close());
  let submitter: Submitter | null = null;
  const rules = deliveryRules({
    store: ruleStore,
    nodeId: settings.node.id,
    log: opts.log,
    world,
    submitter: () => submitter,
  });
  let queueSize = (): number => 0;
  const metrics = createPromMetrics({ queueSize: () => queueSize(), clock });
  // Frontends sign what they relay out; backends hand remote mail to them unsigned.
  const dkimStore = role === "frontend" ? await openDkimStoreFor(settings, () => clock.now(), sys) : null;
  // Every member's WebAdmin manages the keys (the shared state), a backend's too.
  const adminDkim = dkimStore ?? (await openDkimStoreFor(settings, () => clock.now(), sys));
  teardown.add(() => adminDkim.close());
  const ctx: RoleContext = {
    settings,
    world,
    log: opts.log,
    directory,
    state,
    members,
    placement,
    channelClient,
    rules,
    ...(dkimStore !== null
      ? {
          dkim: createDkimSigner({
            store: dkimStore,
            hostname: settings.hostname,
            clock,
            log: opts.log.for("SMTP"),
            metrics,
          }),
        }
      : {}),
  };
  const parts: RoleParts = role === "backend" ? startBackendRole(ctx) : startFrontendRole(ctx);
  teardown.add(() => parts.close());

  // Static clusters: every account has a home backend (cluster/homes.ts). New accounts get one
  // through the admin API of any member; mail for an older account without one is refused with a
  // 4xx at RCPT rather than queued until it expires. Dynamic clusters: the account pages show
  // who holds each account open.
  const isStatic = settings.cluster.kind === "static";
  const homes: AccountHomes | undefined = isStatic
    ? staticHomes({ state, liveBackends: () => members.live("backend").map((m) => m.id), log: clusterLog })
    : undefined;
  const owners: AccountOwners | undefined = isStatic ? undefined : leaseOwners(state, clock);
  const storable = requireHome(state);

  // Copies of every queue file on a live peer of this role before the 250 (issue 16).
  const shadows = await openShadows({
    settings,
    dataDir,
    clock,
    dialer: world.dialer,
    peers: () => members.live(role),
    state,
    log: opts.log.for("QUEUE"),
    unprotected: () => metrics.shadowUnprotected?.(),
    promoted: (n) => metrics.shadowsPromoted?.(n),
    duplicates: (n) => metrics.takeoverDuplicates?.(n),
  });
  teardown.add(() => shadows.close());
  let joined = (): void => undefined;
  const ready = new Promise<void>((r) => (joined = r));
  const { spool, queue } = createNodeQueue({
    settings,
    dataDir,
    world,
    log: opts.log,
    metrics,
    // Deliveries wait until the node has joined (see the header).
    deliverer: gatedDeliverer(parts.deliverer, ready),
    directory: parts.inbound,
    wrapSpool: shadows.wrap,
  });
  queueSize = () => queue.size();
  let queueStarted = false;
  let admin: AdminServer | null = null;
  let listeners: SmtpListeners | null = null;
  let sources: RunningSources | null = null;
  let submitView: SubmitView | null = null;

  // Used by stop() and by a start that fails half-way, for whatever is running by then.
  const shutdown = async (): Promise<void> => {
    // Leave first, so the others stop sending here while we finish; then stop taking mail,
    // then stop delivering. The spool keeps whatever is in flight.
    submitView?.stop();
    managed.stop();
    await membership?.stop();
    await listeners?.close();
    await sources?.close();
    await parts.closeListeners();
    await admin?.close();
    // Deliveries still waiting to join go ahead (and defer), so the queue can stop.
    joined();
    if (queueStarted) await queue.stop();
    // The rest, newest first: the role's parts, the DKIM keys, the rule store, the channel
    // client, the stores, the WebAdmin, the throttle rows.
    await teardown.run();
  };

  try {
    await queue.start();
    queueStarted = true;

    const channel = parts.listenChannel === undefined ? null : await parts.listenChannel();
    const token = await loadOrCreateAdminToken(dataDir);
    // What SMTP, the message sources and other members' remote submissions enqueue here passes
    // the server and cluster rules first.
    const enqueuer = withQueueRules(queue, {
      store: ruleStore,
      nodeId: settings.node.id,
      log: opts.log.for("RULES"),
      now: () => clock.now(),
    });
    // Milters on frontends only: a backend's mail reaches a frontend (delivery channel, or
    // XSUBMIT when it is Remotely) and is filtered there, once.
    const milters = role === "frontend" ? milterOptions(settings, clock, opts.log, metrics) : null;
    const submitPath = createSubmitPath({
      settings,
      queue: enqueuer,
      milters,
      world,
      log: opts.log,
      view: () => submitView,
      memberVerbs: shadows.verbs,
    });
    submitter = submitPath.submitter;
    const { smtpVerbs } = submitPath;
    const tls = await loadOrCreateTls(settings, dataDir, sys);
    if (parts.store !== undefined)
      sources = await startSources({
        settings,
        // POP3 logins read the usage of the mailboxes stored here, as the backend's answers do.
        directory: withMailboxUsage(directory, {
          store: parts.store,
          allHere: false,
          log: opts.log.for("LOCAL"),
        }),
        submitter: submitPath.submitter,
        login: gates.mail,
        store: parts.store,
        tls,
        stores: async (address) => {
          const t = await placement.targetFor(address);
          return !("none" in t) && t.local;
        },
        openRpopStore: () => openRpopStoreFor(settings, clock, opts.log.for("RPOP")),
        clock,
        dialer: world.dialer,
        random: world.random,
        log: opts.log,
        adminToken: token,
      });
    const running = sources;
    const extra = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> =>
      (parts.extra !== undefined && (await parts.extra(req, res))) ||
      (running !== null && (await running.http(req, res)));
    admin = createAdminServer({
      settings,
      queue,
      directory,
      config: managedConfigApi(managed, state, async () =>
        (await state.members()).map((m) => ({ id: m.id, role: m.role })),
      ),
      metrics,
      log: opts.log.for("ADMIN"),
      token,
      health: () => ({
        ok: membership !== null,
        detail: {
          queue: queue.size(),
          role,
          node: settings.node.id,
          live: members.live().map((m) => m.id),
          // This node's own view of Submit Messages (the cluster API shows the stored settings;
          // this is what the node acts on, once it has picked a change up).
          ...(submitView !== null
            ? { submit: { mode: submitView.mode(), offering: submitView.offering().map((m) => m.id) } }
            : {}),
        },
      }),
      extra,
      submit: () => submitView,
      rules: ruleStore,
      dkim: adminDkim,
      ...(homes !== undefined ? { homes } : {}),
      ...(owners !== undefined ? { owners } : {}),
      clock,
      ring: webadmin.ring,
      headers: spoolHeaders(spool),
      ...(webadmin.web !== undefined ? { web: webadmin.web } : {}),
      cluster: {
        self: settings.node.id,
        role,
        kind: settings.cluster.kind,
        secret: settings.cluster.secret,
        members: () => Promise.resolve((membership?.all() ?? []).map(memberSummary)),
        memberHttp: async (id) => {
          const known =
            membership?.all().find((m) => m.id === id) ?? (await state.members()).find((m) => m.id === id);
          return known === undefined || known.http === "" ? null : known.http;
        },
      },
    });
    const httpAt = parseHostPort(settings.http.listen);
    const http = await admin.listen(httpAt.host, httpAt.port);

    const inbound = createInboundHandler({
      settings,
      directory: parts.inbound,
      queue: enqueuer,
      clock,
      log: opts.log.for("SMTPI"),
      metrics,
      login: gates.mail,
      ...(isStatic ? { storable } : {}),
      // Local mail may cross the delivery channel on any member: its rule applies before the 250.
      carries: (params) => channelRefusal(params.body),
      submitVia: (s) => (s.listener === "submission" && submitView?.mode() === "Remotely" ? submitter : null),
      localDomains: () => directory.listDomains(),
      // Backends get no mail from outside; applies() says no there.
      authentication: createAuthentication({
        settings,
        resolver: world.resolver,
        clock,
        log: opts.log.for("SMTPI"),
        metrics,
      }),
    });
    const handler = milters === null ? inbound : withMilters(inbound, milters);
    const bound = await bindSmtpListeners({
      settings,
      handler,
      log: opts.log,
      clock,
      metrics,
      tls,
      smtpVerbs,
    });
    listeners = bound;

    const first = bound.smtp[0];
    const self = await startMembership({
      state,
      self: {
        id: settings.node.id,
        role,
        smtp: first === undefined ? "" : advertised(settings, first),
        http: advertised(settings, http),
        channel: channel === null ? null : advertised(settings, channel),
        submitMessages: settings.cluster.submitMessages,
        startedAt: clock.now(),
      },
      clock,
      heartbeatMs: settings.cluster.heartbeatSeconds * 1000,
      downAfterMs: settings.cluster.downAfterSeconds * 1000,
      log: clusterLog,
      queueSize: () => queue.size(),
    });
    membership = self;
    submitView = createSubmitView({
      selfId: settings.node.id,
      kind: settings.cluster.kind,
      membership: self,
      state,
      configMode: settings.cluster.submitMessages,
      configLog: settings.cluster.submitLog,
      logs: opts.log,
    });
    // The heartbeat re-reads the settings too: a change notification missed is caught there.
    self.onSettingsChange((rows) => managed.update(rows));
    self.onChange((all) => {
      const up = all.filter((m) => m.up).map((m) => `${m.id}(${m.role})`);
      clusterLog.major("members changed", { up: up.join(","), known: all.length });
    });
    self.onChange(() => shadows.resync());
    shadows.resync();
    shadows.startTakeover({
      queue,
      members: () => self.all(),
      intervalMs: settings.cluster.heartbeatSeconds * 1000,
    });
    joined();

    sys.major("started", {
      node: settings.node.id,
      role,
      dataDir,
      smtp: bound.smtp.map((b) => `${b.address}:${b.port}`).join(","),
      submission: bound.submission.map((b) => `${b.address}:${b.port}`).join(","),
      http: `${http.address}:${http.port}`,
      channel: channel === null ? "" : `${channel.address}:${channel.port}`,
      pop3: (running?.listening("pop3") ?? []).map((b) => `${b.address}:${b.port}`).join(","),
    });

    return {
      role,
      membership: self,
      channel,
      queue,
      submitter,
      submitView,
      http,
      smtp: bound.smtp,
      submission: bound.submission,
      pop3: running?.listening("pop3") ?? [],
      async stop() {
        await shutdown();
        sys.major("stopped", { node: settings.node.id });
      },
    };
  } catch (e) {
    await shutdown().catch((err: unknown) =>
      sys.failure("cleanup after a failed start failed", { error: String(err) }),
    );
    throw e;
  }
}

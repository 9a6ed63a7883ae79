// One Mailyard node in a cluster role (frontend or backend; DESIGN.md §1). What both roles share
// is wired here: the shared state file (directory and cluster state), membership (register,
// heartbeat, see the others), placement, the delivery channel client, the durable queue, the
// SMTP listeners and the admin HTTP server. What differs is in frontend.ts and backend.ts.
//
// Start order matters. The queue is started before any listener (it owns the spool), but the
// node only knows its own addresses, and so can join the cluster, once its listeners are bound.
// Until it has joined, deliveries wait (gate below) rather than fail for want of members, and the
// inbound policy of a frontend sees no backend and answers 4xx.
import { recordStateLocation } from "../config/member-state.js";
import { mkdir } from "node:fs/promises";
import type http from "node:http";
import { join, resolve } from "node:path";
import type { AccountHomes, AccountOwners } from "../admin/directory-routes.js";
import { createAdminServer, loadOrCreateAdminToken, type AdminServer } from "../admin/http.js";
import { createPromMetrics } from "../admin/metrics.js";
import { isWireNodeId } from "../cluster/channel/auth.js";
import { createChannelClient, type ChannelTarget } from "../cluster/channel/client.js";
import { channelRefusal } from "../cluster/channel/carries.js";
import { validNodeId } from "../cluster/api/auth.js";
import { startMembership, type Membership } from "../cluster/membership.js";
import { createPlacement, type Placement } from "../cluster/placement.js";
import { checkSecret } from "../cluster/secret.js";
import { withSecretFile } from "../config/secret-file.js";
import type { Role } from "../cluster/state.js";
import type { Settings } from "../config/settings.js";
import { expandRecipient } from "../directory/expand.js";
import { createInboundHandler } from "../inbound/handler.js";
import { createAuthentication } from "../inbound/authentication.js";
import { parseHostPort } from "../proto/hostport.js";
import { REPLIES } from "../proto/reply.js";
import { createQueueManager } from "../queue/manager.js";
import { createSpool } from "../queue/spool.js";
import type { Deliverer, DeliveryJob, Queue } from "../queue/types.js";
import type { Submitter } from "../queue/submit.js";
import { loadOrCreateTls } from "../smtp/server/tls.js";
import { systemClock } from "../world/clock.js";
import { tcpDialer } from "../world/dialer.js";
import { cryptoRandom } from "../world/random.js";
import { systemResolver } from "../world/resolver.js";
import { leaseOwners, staticHomes } from "./account-placement.js";
import { startBackendRole } from "./backend.js";
import { startFrontendRole } from "./frontend.js";
import { advertised, bindSmtpListeners, type Bound, type SmtpListeners } from "./listeners.js";
import type { NodeOptions, NodeWorld, RunningNode } from "./node.js";
import { immediatePause } from "../rules/sieve/meter.js";
import { managedConfigApi, openManagedSettings, type LiveManagedSettings } from "./managed-settings.js";
import type { RoleContext, RoleParts } from "./role-parts.js";
import { startSources, type RunningSources } from "./sources.js";
import type { MemberSummary } from "../admin/node-routes.js";
import type { MemberView } from "../cluster/membership.js";
import { prepareWebAdmin, spoolHeaders } from "./webadmin.js";
import { createSubmitView, type SubmitView } from "../cluster/submit/view.js";
import { createSubmitPath } from "./submit-path.js";
import {
  openDkimStoreFor,
  openRpopStoreFor,
  openRuleStoreFor,
  openStateStores,
  openThrottleRowsFor,
} from "./state-stores.js";
import { loginGates } from "./login-gates.js";
import { milterOptions } from "./milter-wiring.js";
import { withMilters } from "../inbound/milters.js";
import { createDkimSigner } from "../delivery/dkim/sign.js";
import { withQueueRules } from "../queue/rules-gate.js";
import { withMailboxUsage } from "../delivery/mailbox-usage.js";
import type { DeliveryRules } from "../delivery/rules-hook.js";

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

/** Refuses settings a cluster member cannot run with, naming the setting. */
function checkClusterSettings(settings: Settings): void {
  const weak = checkSecret(settings.cluster.secret);
  if (weak !== null) throw new Error(`role ${settings.role}: ${weak}`);
  const id = settings.node.id;
  if (!validNodeId(id) || !isWireNodeId(id))
    throw new Error(`node.id ${JSON.stringify(id)}: use printable ASCII without spaces`);
  // "*" hands remote mail to a frontend; on a frontend that would hand it to itself or a peer.
  if (settings.role === "frontend" && settings.smtp.forwardTo.some((e) => e.trim() === "*"))
    throw new Error('smtp.forwardTo "*" (relay through the frontends) is for backends, not frontends');
}

/** Deliveries wait until the node has joined (see the header). */
function gated(d: Deliverer, ready: Promise<void>): Deliverer {
  return {
    route: async (rcpt) => {
      await ready;
      return d.route(rcpt);
    },
    deliver: async (job) => {
      await ready;
      return d.deliver(job);
    },
  };
}

export async function startClusterNode(settings: Settings, opts: NodeOptions): Promise<ClusterNode> {
  if (settings.role === "single") throw new Error("startClusterNode: role single is startNode's");
  const role = settings.role;
  settings = await withSecretFile(settings);
  checkClusterSettings(settings);
  const world: NodeWorld = {
    clock: opts.world?.clock ?? systemClock,
    resolver: opts.world?.resolver ?? systemResolver(),
    dialer: opts.world?.dialer ?? tcpDialer,
    random: opts.world?.random ?? cryptoRandom,
    pause: opts.world?.pause ?? immediatePause,
  };
  const { clock } = world;
  // Everything logs through the teed sink, so the WebAdmin's log viewer sees every record.
  // Failed logins are counted in the shared state, by every way in and on every member (login-gates.ts).
  const throttleRows = await openThrottleRowsFor(settings, clock, opts.log.for("CLUSTER"));
  const gates = loginGates(settings, clock, throttleRows);
  let webadmin: Awaited<ReturnType<typeof prepareWebAdmin>>;
  try {
    webadmin = await prepareWebAdmin(settings, opts.log, clock, gates.admin);
  } catch (e) {
    await throttleRows.close();
    throw e;
  }
  opts = { ...opts, log: webadmin.log };
  const sys = opts.log.for("SYSTEM");
  const clusterLog = opts.log.for("CLUSTER");
  const dataDir = resolve(settings.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // So CLI commands run with this dataDir alone act on this node's state (config/member-state.ts).
  await recordStateLocation(settings);

  // A frontend opens the directory only for the admin API (operators may manage accounts through
  // any node); its SMTP policy and deliveries ask the backends.
  let stores: Awaited<ReturnType<typeof openStateStores>>;
  try {
    stores = await openStateStores(settings, clock, clusterLog);
  } catch (e) {
    await webadmin.close();
    await throttleRows.close();
    throw e;
  }
  const { directory, state } = stores;
  // Settings changed from the WebAdmin or `mailyard settings set` (the state's settings table):
  // everything below is wired with them.
  let managed: LiveManagedSettings;
  try {
    managed = await openManagedSettings({
      loaded: settings,
      pinned: opts.pinned ?? new Set(),
      nodeId: settings.node.id,
      state,
      log: opts.log.for("ADMIN"),
    });
    settings = managed.settings;
    checkClusterSettings(settings);
  } catch (e) {
    await state.close();
    await directory.close();
    await webadmin.close();
    await throttleRows.close();
    throw e;
  }

  let membership: Membership | null = null;
  const members = { live: (r?: Role) => membership?.live(r) ?? [] };
  const placement: Placement = createPlacement({
    kind: settings.cluster.kind,
    state,
    membership: members,
    selfId: settings.node.id,
    clock,
  });
  const channelTarget = async (job: DeliveryJob): Promise<ChannelTarget | { none: string }> => {
    const t = await placement.targetFor(job.recipients[0]?.rcpt.address ?? "");
    if ("none" in t) return t;
    if (t.node.channel === null) return { none: `backend ${t.node.id} has no delivery channel` };
    try {
      const hp = parseHostPort(t.node.channel);
      return { id: t.node.id, host: hp.host, port: hp.port };
    } catch {
      return { none: `backend ${t.node.id} advertises an unusable channel address` };
    }
  };
  const channelClient = createChannelClient({
    secret: settings.cluster.secret,
    nodeId: settings.node.id,
    hostname: settings.hostname,
    dialer: world.dialer,
    clock,
    log: opts.log.for("DELIVERY"),
    timeoutMs: settings.channel.timeoutSeconds * 1000,
    idleKeepMs: settings.channel.idleKeepSeconds * 1000,
    target: channelTarget,
  });

  // Rules live in the shared state file: every member reads the same server, cluster, domain
  // and account rules. What account rules generate goes through this node's Submitter.
  const ruleStore = await openRuleStoreFor(settings, () => clock.now(), clusterLog);
  let submitter: Submitter | null = null;
  const rules: DeliveryRules = {
    store: ruleStore,
    nodeId: settings.node.id,
    log: opts.log.for("RULES"),
    pause: world.pause,
    submit: (draft, message) =>
      submitter === null
        ? Promise.resolve({ ok: false, reply: REPLIES.nodeStarting })
        : submitter.submit(draft, message),
  };
  let queueSize = (): number => 0;
  const metrics = createPromMetrics({ queueSize: () => queueSize(), clock });
  // Frontends sign what they relay out; backends hand remote mail to them unsigned.
  const dkimStore = role === "frontend" ? await openDkimStoreFor(settings, () => clock.now(), sys) : null;
  // Every member's WebAdmin manages the keys (the shared state), a backend's too.
  const adminDkim = dkimStore ?? (await openDkimStoreFor(settings, () => clock.now(), sys));
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

  // Static clusters: every account has a home backend (cluster/homes.ts). New accounts get one
  // through the admin API of any member; mail for an older account without one is refused with a
  // 4xx at RCPT rather than queued until it expires. Dynamic clusters: the account pages show
  // who holds each account open.
  const isStatic = settings.cluster.kind === "static";
  const homes: AccountHomes | undefined = isStatic
    ? staticHomes({ state, liveBackends: () => members.live("backend").map((m) => m.id), log: clusterLog })
    : undefined;
  const owners: AccountOwners | undefined = isStatic ? undefined : leaseOwners(state, clock);
  const storable = async (address: string) =>
    (await state.homeOf(address)) === null ? REPLIES.noHomeBackend : null;

  let joined = (): void => undefined;
  const ready = new Promise<void>((r) => (joined = r));
  const spool = createSpool(join(dataDir, "queue"), opts.log.for("QUEUE"));
  const queue = createQueueManager({
    spool,
    deliverer: gated(parts.deliverer, ready),
    settings,
    clock,
    random: world.random,
    log: opts.log.for("QUEUE"),
    metrics,
    hostname: settings.hostname,
    // Unexpandable (unknown, looping) or unreadable: keep the address; the channel decides.
    expand: async (address) => {
      const ex = await expandRecipient(parts.inbound, address, { maxDepth: 10, maxTargets: 100 }).catch(
        () => null,
      );
      return ex?.kind === "ok" ? ex.targets.map((t) => t.address) : [address];
    },
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
    await channelClient.close();
    await parts.close();
    await adminDkim.close();
    await state.close();
    await ruleStore.close();
    await directory.close();
    await webadmin.close();
    await throttleRows.close();
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

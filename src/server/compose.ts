// The one composition root: every role's node (single server, frontend, backend; roles.ts) is
// wired here from the same parts, in the same order. What a role adds is in its table entry:
// its own parts (single.ts, frontend.ts, backend.ts) and how it stands towards other nodes
// (alone, single.ts; a cluster member, member.ts); policy stays in the folders that own it.
// The world comes in with the options (start-options.ts) and nowhere deeper.
//
// Start order matters. The state and the managed settings come first (everything below is
// wired with them); the queue is started before any listener (it owns the spool); the channel,
// the message sources (POP3) and the admin HTTP listener come next, and the SMTP and submission
// listeners last, so a start that fails never took a message it cannot deliver; a member joins
// only once its listeners are bound, as then it knows its addresses. Every part started
// goes on the Teardown: a start that fails half-way stops what it had started, and a stop runs
// the same steps newest first (leave the cluster, stop taking mail, stop delivering; the spool
// keeps whatever is in flight).
import type http from "node:http";
import { createAdminServer, loadOrCreateAdminToken } from "../admin/http.js";
import { createPromMetrics } from "../admin/metrics.js";
import type { Role } from "../cluster/state.js";
import type { Settings } from "../config/settings.js";
import { createDkimSigner } from "../delivery/dkim/sign.js";
import { createTlsReportBook, startTlsRptSender } from "../delivery/relay/tls-rpt.js";
import { createAuthentication } from "../inbound/authentication.js";
import { createInboundHandler } from "../inbound/handler.js";
import { withMilters } from "../inbound/milters.js";
import { parseHostPort } from "../proto/hostport.js";
import { withQueueRules } from "../queue/rules-gate.js";
import type { Submitter } from "../queue/submit.js";
import type { Queue } from "../queue/types.js";
import { loadOrCreateTls } from "../smtp/server/tls.js";
import { bindSmtpListeners, type Bound } from "./listeners.js";
import { managedConfigApi, openManagedSettings } from "./managed-settings.js";
import { milterOptions } from "./milter-wiring.js";
import { createNodeQueue, deliveryRules, openNodeBase } from "./node-parts.js";
import type { PartsContext, Standing } from "./role-parts.js";
import { startSources } from "./sources.js";
import type { NodeOptions, RunningNode } from "./start-options.js";
import { openDkimStoreFor, openRpopStoreFor, openRuleStoreFor, openStateStores } from "./state-stores.js";
import { Teardown } from "./teardown.js";
import { spoolHeaders } from "./webadmin.js";

/** A role: how it stands, and the two choices the root makes from it. */
export interface RoleSpec<Joined> {
  readonly standing: Standing<Joined>;
  /** Signs what it relays with DKIM (a backend hands remote mail to a frontend, which signs). */
  readonly signs: boolean;
  /** Runs smtp.milters: a backend's mail reaches a frontend and is filtered there, once. */
  readonly filters: boolean;
}

export type StartedNode<Joined> = RunningNode &
  Joined & {
    readonly role: Role;
    /** The delivery channel listener; backends only. */
    readonly channel: Bound | null;
    /** The operator's view of this node's queue (what the admin API serves). */
    readonly queue: Queue;
    /** The Submit Messages path every message source of this node uses. */
    readonly submitter: Submitter;
  };

export async function startRole<Joined>(
  spec: RoleSpec<Joined>,
  settings: Settings,
  opts: NodeOptions,
): Promise<StartedNode<Joined>> {
  const teardown = new Teardown();
  try {
    return await wire(spec, settings, opts, teardown);
  } catch (e) {
    await teardown.run(opts.log.for("SYSTEM"));
    throw e;
  }
}

async function wire<Joined>(
  spec: RoleSpec<Joined>,
  settings: Settings,
  opts: NodeOptions,
  teardown: Teardown,
): Promise<StartedNode<Joined>> {
  const { standing } = spec;
  settings = await standing.prepare(settings);
  const { world, gates, webadmin, sys, dataDir, log } = await openNodeBase(
    settings,
    opts,
    teardown,
    standing.tag,
  );
  const { clock } = world;
  const stateLog = log.for(standing.tag);

  // The shared state (one SQLite file, or PostgreSQL). A frontend opens the directory only for
  // the admin API and credential stamps; its SMTP policy and deliveries ask the backends.
  const { directory, state } = await openStateStores(settings, clock, stateLog);
  teardown.add(() => directory.close());
  teardown.add(() => state.close());
  // Settings changed from the WebAdmin or `mailyard settings set` live in the state's settings
  // table; everything below is wired with them.
  const managed = await openManagedSettings({
    loaded: settings,
    pinned: opts.pinned ?? new Set(),
    nodeId: settings.node.id,
    state,
    log: log.for("ADMIN"),
  });
  teardown.add(() => managed.stop());
  settings = managed.settings;
  standing.check(settings);

  let queueSize = (): number => 0;
  const metrics = createPromMetrics({ queueSize: () => queueSize(), clock });
  // Rules live in the state: every member of a cluster reads the same server, cluster, domain
  // and account rules. What account rules generate goes through this node's Submitter.
  const ruleStore = await openRuleStoreFor(settings, () => clock.now(), stateLog);
  teardown.add(() => ruleStore.close());
  let submitter: Submitter | null = null;
  const rules = deliveryRules({
    store: ruleStore,
    nodeId: settings.node.id,
    log,
    world,
    submitter: () => submitter,
  });
  // Every node's WebAdmin manages the DKIM keys (the shared state); the roles that sign use them.
  const dkimStore = await openDkimStoreFor(settings, () => clock.now(), sys);
  teardown.add(() => dkimStore.close());
  // TLS-RPT (RFC 8460): the relay's TLS policy results, counted for the daily reports.
  const tlsReports = createTlsReportBook({ hostname: settings.hostname });
  const ctx: PartsContext = {
    settings,
    world,
    log,
    metrics,
    directory,
    rules,
    tlsReports,
    ...(spec.signs
      ? {
          dkim: createDkimSigner({
            store: dkimStore,
            hostname: settings.hostname,
            clock,
            log: log.for("SMTP"),
            metrics,
          }),
        }
      : {}),
  };
  const stand = standing.open({ ...ctx, state, managed }, teardown);
  const parts = stand.parts(ctx);
  teardown.add(() => parts.close());

  const { spool, queue } = createNodeQueue({
    settings,
    dataDir,
    world,
    log,
    metrics,
    deliverer: stand.deliverer(parts.deliverer),
    directory: parts.inbound,
    ...(stand.spool !== undefined ? { wrapSpool: stand.spool } : {}),
  });
  queueSize = () => queue.size();
  await stand.beforeQueue?.(queue);
  await queue.start();
  teardown.add(() => queue.stop());
  teardown.add(() => stand.release());
  teardown.add(() => parts.closeListeners());
  const channel = parts.listenChannel === undefined ? null : await parts.listenChannel();

  // What SMTP, the message sources and other members' remote submissions enqueue here passes
  // the server and cluster rules first.
  const enqueuer = withQueueRules(queue, {
    store: ruleStore,
    nodeId: settings.node.id,
    log: log.for("RULES"),
    now: () => clock.now(),
  });
  const milters = spec.filters ? milterOptions(settings, clock, log, metrics) : null;
  const path = stand.submitPath({ queue: enqueuer, milters });
  submitter = path.submitter;
  if (settings.smtp.outbound.tlsReports) {
    const rpt = startTlsRptSender({
      book: tlsReports,
      resolver: world.resolver,
      clock,
      log: log.for("SMTP"),
      hostname: settings.hostname,
      submitter: () => submitter,
      metrics,
    });
    teardown.add(() => rpt.stop());
  }
  const tls = await loadOrCreateTls(settings, dataDir, sys);
  const token = await loadOrCreateAdminToken(dataDir);

  const { mailboxes } = parts;
  const sources =
    mailboxes === undefined
      ? null
      : await startSources({
          settings,
          directory: mailboxes.directory,
          submitter: path.submitter,
          login: gates.mail,
          store: mailboxes.store,
          tls,
          ...stand.sources,
          openRpopStore: () => openRpopStoreFor(settings, clock, log.for("RPOP")),
          clock,
          dialer: world.dialer,
          random: world.random,
          log,
          adminToken: token,
        });
  if (sources !== null) teardown.add(() => sources.close());

  // Delivery at receipt cannot hold a message or change its envelope: with milters, the queue.
  const receipt = milters === null ? parts.receipt?.(() => queue.nextId()) : undefined;
  const inbound = createInboundHandler({
    settings,
    directory: parts.inbound,
    queue: enqueuer,
    clock,
    log: log.for("SMTPI"),
    metrics,
    login: gates.mail,
    ...(receipt === undefined ? {} : { receipt }),
    ...stand.inbound,
    localDomains: () => directory.listDomains(),
    // Backends get no mail from outside; applies() says no there.
    authentication: createAuthentication({
      settings,
      resolver: world.resolver,
      clock,
      log: log.for("SMTPI"),
      metrics,
    }),
  });
  const extra = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> =>
    (parts.extra !== undefined && (await parts.extra(req, res))) ||
    (sources !== null && (await sources.http(req, res)));
  const admin = createAdminServer({
    settings,
    queue,
    directory,
    metrics,
    log: log.for("ADMIN"),
    token,
    clock,
    ring: webadmin.ring,
    headers: spoolHeaders(spool),
    ...(webadmin.web !== undefined ? { web: webadmin.web } : {}),
    extra,
    rules: ruleStore,
    dkim: dkimStore,
    config: managedConfigApi(managed, state, () => stand.nodes()),
    ...stand.admin,
    health: () => {
      const own = stand.health();
      return {
        ok: own.ok,
        detail: { queue: queue.size(), role: settings.role, node: settings.node.id, ...own.detail },
      };
    },
  });
  teardown.add(() => admin.close());
  const httpAt = parseHostPort(settings.http.listen);
  const http = await admin.listen(httpAt.host, httpAt.port);

  // The listeners that accept mail open last, once everything behind them runs (queue, channel,
  // message sources, admin HTTP): a start that fails before here never said 250 to anyone.
  // PROXY headers only from smtp.proxyProtocolFrom (listeners.ts).
  const listeners = await bindSmtpListeners({
    settings,
    handler: milters === null ? inbound : withMilters(inbound, milters),
    log,
    clock,
    metrics,
    tls,
    memberTls: stand.memberTls ?? null,
    smtpVerbs: path.smtpVerbs,
    ...(stand.closed !== undefined ? { closed: stand.closed } : {}),
  });
  teardown.add(() => listeners.close());

  const pop3 = sources?.listening("pop3") ?? [];
  const joined = await stand.join({
    smtp: listeners.smtp[0],
    submissions: listeners.submissions[0],
    http,
    channel,
    queueSize: () => queue.size(),
    queue,
  });
  const at = (bound: readonly Bound[]): string => bound.map((b) => `${b.address}:${b.port}`).join(",");
  sys.major("started", {
    node: settings.node.id,
    role: settings.role,
    dataDir,
    smtp: at(listeners.smtp),
    submission: at(listeners.submission),
    submissions: at(listeners.submissions),
    http: at([http]),
    ...(channel !== null ? { channel: at([channel]) } : {}),
    pop3: at(pop3),
  });
  return {
    ...joined,
    role: settings.role,
    channel,
    queue,
    submitter: path.submitter,
    http,
    smtp: listeners.smtp,
    submission: listeners.submission,
    submissions: listeners.submissions,
    pop3,
    async stop() {
      await teardown.run();
      sys.major("stopped", { node: settings.node.id });
    },
  };
}

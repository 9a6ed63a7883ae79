// Starting a Mailyard node: the data directory's lock first, then the role. The single server is
// wired here from its role parts (single.ts) and the parts every role shares (node-parts.ts):
// the directory, the spool and queue manager, the SMTP and submission listeners, the message
// sources and the admin HTTP server. Frontends and backends are wired in roles.ts from the same
// parts. The world (clock, resolver, dialer, randomness, the event-loop pause) comes in here
// (start-options.ts) and nowhere deeper. A start that fails half-way stops what it started.
import { resolve } from "node:path";
import type { Settings } from "../config/settings.js";
import { createLocalReceipt } from "../delivery/receipt.js";
import { createInboundHandler } from "../inbound/handler.js";
import { withMilters } from "../inbound/milters.js";
import { milterOptions } from "./milter-wiring.js";
import { createAuthentication } from "../inbound/authentication.js";
import { loadOrCreateTls } from "../smtp/server/tls.js";
import { createAdminServer, loadOrCreateAdminToken } from "../admin/http.js";
import { createPromMetrics } from "../admin/metrics.js";
import { parseHostPort } from "../proto/hostport.js";
import { startClusterNode } from "./roles.js";
import type { NodeOptions, RunningNode } from "./start-options.js";
import { lockDataDir } from "./data-lock.js";
import { Teardown } from "./teardown.js";
import { spoolHeaders } from "./webadmin.js";
import { createNodeQueue, deliveryRules, openNodeBase } from "./node-parts.js";
import { startSingleRole } from "./single.js";
import { bindSmtpListeners } from "./listeners.js";
import { startSources } from "./sources.js";
import { localSubmitter } from "../queue/local-submit.js";
import {
  openClusterStateStore,
  openDirectoryStore,
  openRpopStoreFor,
  openRuleStoreFor,
  openDkimStoreFor,
} from "./state-stores.js";
import { createDkimSigner } from "../delivery/dkim/sign.js";
import { managedConfigApi, openManagedSettings } from "./managed-settings.js";
import type { Submitter } from "../queue/submit.js";
import { withQueueRules } from "../queue/rules-gate.js";

export type { NodeOptions, NodeWorld, RunningNode } from "./start-options.js";

export async function startNode(settings: Settings, opts: NodeOptions): Promise<RunningNode> {
  // First thing, before any file under dataDir is read or moved (queue recovery): a second node
  // on the same directory must fail here and change nothing.
  const lock = await lockDataDir(resolve(settings.dataDir));
  let node: RunningNode;
  try {
    // Frontends and backends are wired in roles.ts; startSingleNode is the single server.
    node =
      settings.role === "single"
        ? await startSingleNode(settings, opts)
        : await startClusterNode(settings, opts);
  } catch (e) {
    lock.release();
    throw e;
  }
  return {
    ...node,
    async stop() {
      try {
        await node.stop();
      } finally {
        lock.release();
      }
    },
  };
}

async function startSingleNode(settings: Settings, opts: NodeOptions): Promise<RunningNode> {
  // A start that fails half-way stops what it had started (teardown.ts).
  const teardown = new Teardown();
  try {
    return await wireSingleNode(settings, opts, teardown);
  } catch (e) {
    await teardown.run(opts.log.for("SYSTEM"));
    throw e;
  }
}

async function wireSingleNode(
  settings: Settings,
  opts: NodeOptions,
  teardown: Teardown,
): Promise<RunningNode> {
  const { world, gates, webadmin, sys, dataDir, log } = await openNodeBase(
    settings,
    opts,
    teardown,
    "SYSTEM",
  );
  opts = { ...opts, log };

  // Settings changed from the WebAdmin or `mailyard settings set` live in the state's settings
  // table; everything below is wired with them.
  const configState = await openClusterStateStore(settings, world.clock, opts.log.for("ADMIN"));
  teardown.add(() => configState.close());
  const managed = await openManagedSettings({
    loaded: settings,
    pinned: opts.pinned ?? new Set(),
    nodeId: settings.node.id,
    state: configState,
    log: opts.log.for("ADMIN"),
  });
  teardown.add(() => managed.stop());
  settings = managed.settings;

  const directory = await openDirectoryStore(settings, world.clock, opts.log.for("DIRECTORY"));
  teardown.add(() => directory.close());
  let queueSize = (): number => 0;
  const metrics = createPromMetrics({ queueSize: () => queueSize(), clock: world.clock });
  // Account rules submit what they generate through the node's Submitter, made further down.
  const ruleStore = await openRuleStoreFor(settings, () => world.clock.now(), sys);
  teardown.add(() => ruleStore.close());
  let submitter: Submitter | null = null;
  const rules = deliveryRules({
    store: ruleStore,
    nodeId: settings.node.id,
    log: opts.log,
    world,
    submitter: () => submitter,
  });
  const dkimStore = await openDkimStoreFor(settings, () => world.clock.now(), sys);
  teardown.add(() => dkimStore.close());
  const dkim = createDkimSigner({
    store: dkimStore,
    hostname: settings.hostname,
    clock: world.clock,
    log: opts.log.for("SMTP"),
    metrics,
  });
  // The single server's role: its mailboxes, the local channel and the relay (single.ts).
  const parts = startSingleRole({ settings, world, log: opts.log, directory, rules, dkim });
  teardown.add(() => parts.close());
  const { store } = parts;
  const { spool, queue } = createNodeQueue({
    settings,
    dataDir,
    world,
    log: opts.log,
    metrics,
    deliverer: parts.deliverer,
    directory,
  });
  queueSize = () => queue.size();
  await queue.start();
  teardown.add(() => queue.stop());
  // What SMTP and the message sources enqueue passes the server and cluster rules first.
  const enqueuer = withQueueRules(queue, {
    store: ruleStore,
    nodeId: settings.node.id,
    log: opts.log.for("RULES"),
    now: () => world.clock.now(),
  });

  const tls = await loadOrCreateTls(settings, dataDir, sys);
  const milters = milterOptions(settings, world.clock, opts.log, metrics);
  // Delivery at receipt cannot hold a message or change its envelope: with milters, the queue.
  const receipt =
    settings.local.deliverOnReceipt && milters === null
      ? createLocalReceipt({
          directory,
          store,
          settings,
          clock: world.clock,
          nextId: () => queue.nextId(),
          metrics,
          log: opts.log.for("LOCAL"),
          rules,
        })
      : undefined;
  const inbound = createInboundHandler({
    settings,
    directory: parts.inbound,
    queue: enqueuer,
    clock: world.clock,
    log: opts.log.for("SMTPI"),
    metrics,
    login: gates.mail,
    ...(receipt === undefined ? {} : { receipt }),
    localDomains: () => directory.listDomains(),
    authentication: createAuthentication({
      settings,
      resolver: world.resolver,
      clock: world.clock,
      log: opts.log.for("SMTPI"),
      metrics,
    }),
  });
  const handler = milters === null ? inbound : withMilters(inbound, milters);
  // The same listeners as a cluster node's: PROXY headers only from smtp.proxyProtocolFrom.
  const listeners = await bindSmtpListeners({
    settings,
    handler,
    log: opts.log,
    clock: world.clock,
    metrics,
    tls,
  });
  teardown.add(() => listeners.close());
  const { smtp, submission, submissions } = listeners;

  const token = await loadOrCreateAdminToken(dataDir);
  submitter = localSubmitter(enqueuer, {
    nodeId: settings.node.id,
    maxMessages: settings.queue.maxMessages,
    log: opts.log.for("SUBMIT"),
  });
  const sources = await startSources({
    settings,
    directory: parts.inbound,
    submitter,
    login: gates.mail,
    store,
    tls,
    openRpopStore: () => openRpopStoreFor(settings, world.clock, opts.log.for("RPOP")),
    clock: world.clock,
    dialer: world.dialer,
    random: world.random,
    log: opts.log,
    adminToken: token,
  });
  teardown.add(() => sources.close());

  const pop3 = sources.listening("pop3");
  const admin = createAdminServer({
    settings,
    queue,
    directory,
    metrics,
    log: opts.log.for("ADMIN"),
    token,
    clock: world.clock,
    ring: webadmin.ring,
    headers: spoolHeaders(spool),
    ...(webadmin.web !== undefined ? { web: webadmin.web } : {}),
    extra: (req, res) => sources.http(req, res),
    rules: ruleStore,
    dkim: dkimStore,
    config: managedConfigApi(managed, configState, () =>
      Promise.resolve([{ id: settings.node.id, role: settings.role }]),
    ),
    health: () => ({
      ok: true,
      detail: { queue: queue.size(), role: settings.role, node: settings.node.id },
    }),
  });
  const httpAt = parseHostPort(settings.http.listen);
  const http = await admin.listen(httpAt.host, httpAt.port);
  teardown.add(() => admin.close());
  sys.major("started", {
    node: settings.node.id,
    role: settings.role,
    dataDir,
    smtp: smtp.map((b) => `${b.address}:${b.port}`).join(","),
    submission: submission.map((b) => `${b.address}:${b.port}`).join(","),
    submissions: submissions.map((b) => `${b.address}:${b.port}`).join(","),
    http: `${http.address}:${http.port}`,
    pop3: pop3.map((b) => `${b.address}:${b.port}`).join(","),
  });

  return {
    http,
    smtp,
    submission,
    submissions,
    pop3,
    async stop() {
      // Newest first: stop taking mail (admin HTTP with the sources' routes, the sources, the
      // SMTP listeners), then stop delivering; the spool keeps whatever is in flight.
      await teardown.run();
      sys.major("stopped", { node: settings.node.id });
    },
  };
}

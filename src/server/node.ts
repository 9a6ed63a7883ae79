// Starting a Mailyard node: the data directory's lock first, then the role. The single server is
// wired here from its role parts (single.ts) and the parts every role shares (node-parts.ts):
// the directory, the spool and queue manager, the SMTP and submission listeners, the message
// sources and the admin HTTP server. Frontends and backends are wired in roles.ts from the same
// parts. The world (clock, resolver, dialer, randomness, the event-loop pause) comes in here
// (start-options.ts) and nowhere deeper. A start that fails half-way stops what it started.
import { recordStateLocation } from "../config/member-state.js";
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import type { Settings } from "../config/settings.js";
import { createLocalReceipt } from "../delivery/receipt.js";
import { createInboundHandler } from "../inbound/handler.js";
import { loadOrCreateTls } from "../smtp/server/tls.js";
import { createAdminServer, loadOrCreateAdminToken } from "../admin/http.js";
import { createPromMetrics } from "../admin/metrics.js";
import { parseHostPort } from "../proto/hostport.js";
import { startClusterNode } from "./roles.js";
import { nodeWorld, type NodeOptions, type RunningNode } from "./start-options.js";
import { lockDataDir } from "./data-lock.js";
import { Teardown } from "./teardown.js";
import { createNodeQueue, deliveryRules } from "./node-parts.js";
import { startSingleRole } from "./single.js";
import { bindSmtpListeners } from "./listeners.js";
import { startSources } from "./sources.js";
import { localSubmitter } from "../queue/local-submit.js";
import {
  openClusterStateStore,
  openDirectoryStore,
  openRpopStoreFor,
  openRuleStoreFor,
  openThrottleRowsFor,
} from "./state-stores.js";
import { managedConfigApi, openManagedSettings } from "./managed-settings.js";
import type { Submitter } from "../queue/submit.js";
import { withQueueRules } from "../queue/rules-gate.js";
import { prepareWebAdmin, spoolHeaders } from "./webadmin.js";
import { loginGates } from "./login-gates.js";

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
  const world = nodeWorld(opts.world);
  // Everything logs through the teed sink, so the WebAdmin's log viewer sees every record.
  // Failed logins are counted in the shared state, by every way in (login-gates.ts).
  const throttleRows = await openThrottleRowsFor(settings, world.clock, opts.log.for("SYSTEM"));
  teardown.add(() => throttleRows.close());
  const gates = loginGates(settings, world.clock, throttleRows);
  const webadmin = await prepareWebAdmin(settings, opts.log, world.clock, gates.admin);
  teardown.add(() => webadmin.close());
  opts = { ...opts, log: webadmin.log };
  const sys = opts.log.for("SYSTEM");
  const dataDir = resolve(settings.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // So CLI commands run with this dataDir alone act on this node's state (config/member-state.ts).
  await recordStateLocation(settings);

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
  const rules = deliveryRules({ store: ruleStore, log: opts.log, world, submitter: () => submitter });
  // The single server's role: its mailboxes, the local channel and the relay (single.ts).
  const parts = startSingleRole({ settings, world, log: opts.log, directory, rules });
  teardown.add(() => parts.close());
  const { store } = parts;
  const { spool, queue } = createNodeQueue({
    settings,
    dataDir,
    world,
    log: opts.log,
    metrics,
    deliverer: parts.deliverer,
    directory: parts.inbound,
  });
  queueSize = () => queue.size();
  await queue.start();
  teardown.add(() => queue.stop());
  // What SMTP and the message sources enqueue passes the server and cluster rules first.
  const enqueuer = withQueueRules(queue, {
    store: ruleStore,
    log: opts.log.for("RULES"),
    now: () => world.clock.now(),
  });

  const tls = await loadOrCreateTls(settings, dataDir, sys);
  const receipt = settings.local.deliverOnReceipt
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
  const handler = createInboundHandler({
    settings,
    directory,
    queue: enqueuer,
    clock: world.clock,
    log: opts.log.for("SMTPI"),
    metrics,
    login: gates.mail,
    ...(receipt === undefined ? {} : { receipt }),
    localDomains: () => directory.listDomains(),
  });
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
  const { smtp, submission } = listeners;

  const token = await loadOrCreateAdminToken(dataDir);
  submitter = localSubmitter(enqueuer, {
    nodeId: settings.node.id,
    maxMessages: settings.queue.maxMessages,
    log: opts.log.for("SUBMIT"),
  });
  const sources = await startSources({
    settings,
    directory,
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
  sys.major("started", {
    node: settings.node.id,
    role: settings.role,
    dataDir,
    smtp: smtp.map((b) => `${b.address}:${b.port}`).join(","),
    submission: submission.map((b) => `${b.address}:${b.port}`).join(","),
    http: `${http.address}:${http.port}`,
    pop3: pop3.map((b) => `${b.address}:${b.port}`).join(","),
  });

  return {
    http,
    smtp,
    submission,
    pop3,
    async stop() {
      // Stop taking mail first, then stop delivering; the spool keeps whatever is in flight.
      await listeners.close();
      await sources.close();
      await admin.close();
      await queue.stop();
      await parts.close();
      await ruleStore.close();
      await directory.close();
      managed.stop();
      await configState.close();
      await webadmin.close();
      await throttleRows.close();
      sys.major("stopped", { node: settings.node.id });
    },
  };
}

// One Mailyard node in the single-server role: wires the directory, the spool and queue
// manager, the delivery channels, the SMTP and submission listeners and the admin HTTP server.
// The world (clock, resolver, dialer, randomness, the event-loop pause) comes in here and nowhere deeper.
import { recordStateLocation } from "../config/member-state.js";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Settings } from "../config/settings.js";
import { mailRoot } from "../config/paths.js";
import type { LogSink } from "../log/logger.js";
import { createSpool } from "../queue/spool.js";
import { createQueueManager } from "../queue/manager.js";
import { createMaildirStore } from "../store/maildir.js";
import { createLocalChannel } from "../delivery/local.js";
import { createRelayChannel } from "../delivery/relay.js";
import { createRouter } from "../delivery/router.js";
import { withMailboxUsage } from "../delivery/mailbox-usage.js";
import { createLocalReceipt } from "../delivery/receipt.js";
import { createInboundHandler } from "../inbound/handler.js";
import { withMilters } from "../inbound/milters.js";
import { milterOptions } from "./milter-wiring.js";
import { createAuthentication } from "../inbound/authentication.js";
import { expandRecipient } from "../directory/expand.js";
import { loadOrCreateTls } from "../smtp/server/tls.js";
import { createAdminServer, loadOrCreateAdminToken } from "../admin/http.js";
import { createPromMetrics } from "../admin/metrics.js";
import { parseHostPort } from "../proto/hostport.js";
import { systemClock, type Clock } from "../world/clock.js";
import { systemResolver, type Resolver } from "../world/resolver.js";
import { tcpDialer, type Dialer } from "../world/dialer.js";
import { cryptoRandom, type Random } from "../world/random.js";
import { immediatePause, type Pause } from "../rules/sieve/meter.js";
import { startClusterNode } from "./roles.js";
import { lockDataDir } from "./data-lock.js";
import { bindSmtpListeners } from "./listeners.js";
import { startSources } from "./sources.js";
import { localSubmitter } from "../queue/local-submit.js";
import {
  openClusterStateStore,
  openDirectoryStore,
  openRpopStoreFor,
  openRuleStoreFor,
  openDkimStoreFor,
  openThrottleRowsFor,
} from "./state-stores.js";
import { createDkimSigner } from "../delivery/dkim/sign.js";
import { managedConfigApi, openManagedSettings } from "./managed-settings.js";
import type { Submitter } from "../queue/submit.js";
import type { DeliveryRules } from "../delivery/rules-hook.js";
import { REPLIES } from "../proto/reply.js";
import { withQueueRules } from "../queue/rules-gate.js";
import { prepareWebAdmin, spoolHeaders } from "./webadmin.js";
import { loginGates } from "./login-gates.js";

export interface NodeWorld {
  readonly clock: Clock;
  readonly resolver: Resolver;
  readonly dialer: Dialer;
  readonly random: Random;
  /** How long computations (rule evaluation) give the event loop back: setImmediate. */
  readonly pause: Pause;
}

export interface RunningNode {
  stop(): Promise<void>;
  readonly http: { address: string; port: number };
  readonly smtp: readonly { address: string; port: number }[];
  readonly submission: readonly { address: string; port: number }[];
  /** POP3 listeners (single servers and backends; empty when pop3.listen is empty). */
  readonly pop3: readonly { address: string; port: number }[];
}

export interface NodeOptions {
  log: LogSink;
  world?: Partial<NodeWorld>;
  /** Keys given by environment or --set: stored (managed) settings do not override them. */
  pinned?: ReadonlySet<string>;
}

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
  const world: NodeWorld = {
    clock: opts.world?.clock ?? systemClock,
    resolver: opts.world?.resolver ?? systemResolver(),
    dialer: opts.world?.dialer ?? tcpDialer,
    random: opts.world?.random ?? cryptoRandom,
    pause: opts.world?.pause ?? immediatePause,
  };
  // Everything logs through the teed sink, so the WebAdmin's log viewer sees every record.
  // Failed logins are counted in the shared state, by every way in (login-gates.ts).
  const throttleRows = await openThrottleRowsFor(settings, world.clock, opts.log.for("SYSTEM"));
  const gates = loginGates(settings, world.clock, throttleRows);
  const webadmin = await prepareWebAdmin(settings, opts.log, world.clock, gates.admin);
  opts = { ...opts, log: webadmin.log };
  const sys = opts.log.for("SYSTEM");
  const dataDir = resolve(settings.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // So CLI commands run with this dataDir alone act on this node's state (config/member-state.ts).
  await recordStateLocation(settings);

  // Settings changed from the WebAdmin or `mailyard settings set` live in the state's settings
  // table; everything below is wired with them.
  const configState = await openClusterStateStore(settings, world.clock, opts.log.for("ADMIN"));
  const managed = await openManagedSettings({
    loaded: settings,
    pinned: opts.pinned ?? new Set(),
    nodeId: settings.node.id,
    state: configState,
    log: opts.log.for("ADMIN"),
  });
  settings = managed.settings;

  const directory = await openDirectoryStore(settings, world.clock, opts.log.for("DIRECTORY"));
  let queueSize = (): number => 0;
  const metrics = createPromMetrics({ queueSize: () => queueSize(), clock: world.clock });
  const store = createMaildirStore(mailRoot(settings), opts.log.for("LOCAL"), {
    groupAccess: settings.local.mailGroupAccess,
  });
  // Quota checks (RCPT, end of data, POP3) read the usage of the mailbox, which is all here.
  const mailboxDirectory = withMailboxUsage(directory, { store, allHere: true, log: opts.log.for("LOCAL") });
  // Account rules submit what they generate through the node's Submitter, made further down.
  const ruleStore = await openRuleStoreFor(settings, () => world.clock.now(), sys);
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
  const local = createLocalChannel({
    directory,
    store,
    settings,
    clock: world.clock,
    log: opts.log.for("LOCAL"),
    hostname: settings.hostname,
    rules,
  });
  const dkimStore = await openDkimStoreFor(settings, () => world.clock.now(), sys);
  const relay = createRelayChannel({
    settings,
    resolver: world.resolver,
    dialer: world.dialer,
    clock: world.clock,
    log: opts.log.for("SMTP"),
    hostname: settings.hostname,
    dkim: createDkimSigner({
      store: dkimStore,
      hostname: settings.hostname,
      clock: world.clock,
      log: opts.log.for("SMTP"),
      metrics,
    }),
  });
  const deliverer = createRouter({ directory, local, relay, forwardTo: settings.smtp.forwardTo });
  const spool = createSpool(join(dataDir, "queue"), opts.log.for("QUEUE"));
  const queue = createQueueManager({
    spool,
    deliverer,
    settings,
    clock: world.clock,
    random: world.random,
    log: opts.log.for("QUEUE"),
    metrics,
    hostname: settings.hostname,
    // Unexpandable (unknown, looping) or unreadable: keep the address; the channel decides.
    expand: async (address) => {
      const ex = await expandRecipient(directory, address, { maxDepth: 10, maxTargets: 100 }).catch(
        () => null,
      );
      return ex?.kind === "ok" ? ex.targets.map((t) => t.address) : [address];
    },
  });
  queueSize = () => queue.size();
  await queue.start();
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
    directory: mailboxDirectory,
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
  const { smtp, submission } = listeners;

  const token = await loadOrCreateAdminToken(dataDir);
  submitter = localSubmitter(enqueuer, {
    nodeId: settings.node.id,
    maxMessages: settings.queue.maxMessages,
    log: opts.log.for("SUBMIT"),
  });
  const sources = await startSources({
    settings,
    directory: mailboxDirectory,
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
      await relay.close();
      await dkimStore.close();
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

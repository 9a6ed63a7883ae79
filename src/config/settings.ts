// Every setting of Mailyard, its type and default, in one schema. Loading (file, environment,
// --set) is in load.ts; docs/CONFIG.md is checked against this schema by a test.
import { z } from "zod";
import { parseCidr } from "../proto/cidr.js";
import { parseHostPort } from "../proto/hostport.js";

/** Submit Messages values (DESIGN.md §3); src/cluster/submit/modes.ts says how "default" resolves. */
export const SUBMIT_MODES = ["default", "Locally", "Locally for Others", "Remotely"] as const;
/** smtp.outbound.tlsPolicy and the values of tlsPolicies (src/delivery/relay/tls-policy.ts). */
export const OUTBOUND_TLS_POLICIES = ["opportunistic", "verify", "mta-sts", "dane"] as const;
/** queue.shadow (src/cluster/shadow/spool.ts). */
export const SHADOW_MODES = ["preferred", "required", "off"] as const;
export const TAKEN_ENTRY_ACTIONS = ["drop", "hold"] as const;
/** Remote Submit Log values: the log level names (src/log/logger.ts LEVELS), "none" = crashes only. */
export const SUBMIT_LOG_LEVELS = ["none", "failure", "major", "problem", "low", "all"] as const;

const duration = z.number().int().nonnegative();
const listen = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, "expected host:port")
  .refine((s) => Number(/(\d+)$/.exec(s)?.[1]) <= 65535, "expected host:port with a port up to 65535");
// Checked here, at load, rather than where the list is first used (a bad entry would otherwise
// stop a start with a plain error, or, for forwardTo, defer mail at the first relay).
/** An IP address or CIDR network (smtp.relayNetworks, smtp.proxyProtocolFrom). */
const network = z.string().superRefine((s, ctx) => {
  const n = parseCidr(s);
  if (typeof n === "string") ctx.addIssue({ code: "custom", message: `"${s}" ${n}` });
});
/** An entry of smtp.forwardTo: host[:port] (25 by default), or "*" (the live frontends). */
const forwardEntry = z.string().superRefine((s, ctx) => {
  if (s.trim() === "*") return;
  let port = 0;
  try {
    port = parseHostPort(s, 25).port;
  } catch {
    // port stays 0: refused below
  }
  if (port === 0) ctx.addIssue({ code: "custom", message: `"${s}" is not host[:port] or *` });
});

export const settingsSchema = z.object({
  /** Where the queue, the directory, mailboxes, logs and TLS material live. */
  dataDir: z.string().min(1).default("./data"),
  /** Name used in the greeting, EHLO, Received: headers and DSNs. */
  hostname: z.string().min(1).default("localhost"),
  role: z.enum(["single", "frontend", "backend"]).default("single"),
  node: z.object({ id: z.string().min(1).default("node1") }).prefault({}),

  smtp: z
    .object({
      listen: z.array(listen).default(["127.0.0.1:2525"]),
      /** Send all non-local mail through these host:port relays instead of MX lookup; "*" = live frontends. */
      forwardTo: z.array(forwardEntry).default([]),
      /** TLS to the host:port entries of forwardTo: STARTTLS when offered, required, or from the first byte. */
      forwardTls: z.enum(["opportunistic", "starttls", "implicit"]).default("opportunistic"),
      /** With forwardTls starttls/implicit: the certificate must chain to the CAs and name the host. */
      forwardVerify: z.boolean().default(true),
      /** PEM bundle of the CAs trusted for forwardVerify; empty = Node's root CAs. */
      forwardCaFile: z.string().default(""),
      /** A file holding username:password for AUTH to the forwardTo hosts (mode 0600); empty = no AUTH. */
      forwardAuthFile: z.string().default(""),
      /** Networks (CIDR) of load balancers whose connections start with a PROXY v1/v2 header. */
      proxyProtocolFrom: z.array(network).default([]),
      /** Client networks allowed to relay without AUTH (CIDR). Empty: none. */
      relayNetworks: z.array(network).default(["127.0.0.0/8", "::1/128"]),
      maxMessageSize: z.number().int().positive().default(52_428_800),
      maxRecipients: z.number().int().positive().default(1000),
      /** Longest command line accepted, in bytes including CRLF (RFC 5321 §4.5.3.1.4 minimum 512). */
      maxCommandLine: z.number().int().min(512).default(2048),
      /** Longest DATA line accepted, in bytes including CRLF (RFC 5321 minimum 1000). */
      maxDataLine: z.number().int().min(1000).default(65_536),
      /** Largest header section accepted (folded lines and all), in bytes; 552 5.3.4 beyond. */
      maxHeaderBytes: z.number().int().min(1000).default(262_144),
      /** Most header fields accepted in one message; 554 5.6.0 beyond. */
      maxHeaderFields: z.number().int().min(10).default(1000),
      /** Protocol errors tolerated in one session before it is closed with 421. */
      maxErrors: z.number().int().positive().default(10),
      idleTimeoutSeconds: duration.default(300),
      sessionTimeoutSeconds: duration.default(1800),
      maxConnections: z.number().int().positive().default(2000),
      maxConnectionsPerIp: z.number().int().positive().default(50),
      vrfy: z.boolean().default(false),
      /** Where postmaster mail goes that no postmaster account or alias takes; empty = postmaster@ the first local domain. */
      postmaster: z.string().default(""),
      /** Disconnect clients not logged in that break RFC 2920's pipelining rules (Postfix's smtpd_forbid_unauth_pipelining). */
      forbidUnauthPipelining: z.boolean().default(false),
      /** AUTH offered only over TLS (false allows AUTH in the clear, e.g. for loopback tests). */
      authRequiresTls: z.boolean().default(true),
      tls: z
        .object({
          /** PEM files; when both are empty a self-signed pair is made under dataDir/tls on first start. */
          cert: z.string().default(""),
          key: z.string().default(""),
        })
        .prefault({}),
      /** Milters (Postfix's smtpd_milters): inet:host:port or unix:/path, then name=value options. */
      milters: z
        .array(
          z
            .string()
            .regex(
              /^\s*(inet:\S+:\d{1,5}|unix:\/\S*)(\s+\S+=\S*)*\s*$/,
              "expected inet:host:port or unix:/path",
            ),
        )
        .default([]),
      /** A milter that is down, times out or breaks the protocol: tempfail (4xx), accept (skip it) or reject. */
      milterDefaultAction: z.enum(["tempfail", "accept", "reject"]).default("tempfail"),
      milterConnectTimeoutSeconds: z.number().int().positive().default(30),
      milterCommandTimeoutSeconds: z.number().int().positive().default(30),
      milterContentTimeoutSeconds: z.number().int().positive().default(300),
      /** Over quota: reject (452 4.2.2 at RCPT, 552 5.2.2 at end of data or a bounce), or queue and retry. */
      overQuota: z.enum(["reject", "queue"]).default("reject"),
      /** Sender binding of AUTH sessions: envelope sender and From: (enforce), envelope only, or off. */
      senderLogin: z.enum(["enforce", "envelope", "off"]).default("enforce"),
      /** Unauthenticated MAIL FROM in a local domain must be a known address (550 5.7.1 otherwise). */
      verifyLocalSenders: z.boolean().default(true),
      /** Unauthenticated mail from outside relayNetworks with a local domain's sender: accept or reject. */
      localSenderFromOutside: z.enum(["accept", "reject"]).default("accept"),
      /** SPF, DKIM, ARC and DMARC checks on mail from outside (single servers and frontends). */
      authChecks: z.boolean().default(true),
      /** DMARC p=reject → 550 and p=quarantine → a header (honour), both only a header (mark), or no DMARC. */
      dmarcPolicy: z.enum(["honour", "mark", "off"]).default("honour"),
      /** SPF fail: recorded in Authentication-Results (mark) or 550 5.7.23 (reject). */
      spfFail: z.enum(["mark", "reject"]).default("mark"),
      outbound: z
        .object({
          /** Name sent in EHLO to other servers; empty = hostname. */
          helo: z.string().default(""),
          connectTimeoutSeconds: duration.default(30),
          /** Per-command timeout while talking to a remote server. */
          commandTimeoutSeconds: duration.default(300),
          /** Timeout for the reply after end of data (RFC 5321 §4.5.3.2.6: 10 minutes). */
          dataTimeoutSeconds: duration.default(600),
          /** Use STARTTLS when the server offers it (opportunistic; certificates not verified). */
          starttls: z.boolean().default(true),
          /** Send messages with BDAT (RFC 3030) to servers that offer CHUNKING and PIPELINING. */
          chunking: z.boolean().default(true),
          /** Messages sent over one connection before it is closed. */
          maxMessagesPerConnection: z.number().int().positive().default(100),
          /** An idle outbound connection is kept this long for the next message to that destination. */
          idleKeepSeconds: duration.default(5),
          /**
           * PEM CA bundle trusted besides the system's when a server certificate is verified (a
           * REQUIRETLS hop); empty: the system CAs only.
           */
          caFile: z.string().default(""),
          /** What MX hosts must show before mail goes to them (delivery/relay/tls-policy.ts). */
          tlsPolicy: z.enum(OUTBOUND_TLS_POLICIES).default("opportunistic"),
          /** Per recipient domain: a policy other than tlsPolicy. */
          tlsPolicies: z
            .record(
              z.string(),
              z
                .string()
                .regex(
                  /^(opportunistic|verify|mta-sts|dane)$/,
                  "expected opportunistic, verify, mta-sts or dane",
                ),
            )
            .default({}),
          /** host:port of a DNSSEC-validating resolver for DANE (its AD bit is trusted); empty: no DANE. */
          daneResolver: z.string().default(""),
          /** Daily TLS-RPT reports (RFC 8460) to the rua of domains that publish _smtp._tls. */
          tlsReports: z.boolean().default(true),
          /** Time limit of one MTA-STS policy fetch and of one DANE query. */
          policyTimeoutSeconds: z.number().int().positive().default(10),
          /** Port used for MX hosts (25 on the Internet; tests point it elsewhere). */
          port: z.number().int().min(1).max(65535).default(25),
        })
        .prefault({}),
    })
    .prefault({}),

  submission: z
    .object({
      /** Submission listener (AUTH required to send). Empty list: off. */
      listen: z.array(listen).default(["127.0.0.1:2587"]),
    })
    .prefault({}),

  submissions: z
    .object({
      /** Submission over implicit TLS (RFC 8314, port 465 on the Internet). Empty list: off. */
      listen: z.array(listen).default(["127.0.0.1:2465"]),
    })
    .prefault({}),

  pop3: z
    .object({
      /** POP3 listeners on single servers and backends (mailbox access, XTND XMIT). Empty list: off. */
      listen: z.array(listen).default(["127.0.0.1:2110"]),
      /** USER/PASS and AUTH only after STLS (false allows them in the clear, e.g. on loopback). */
      authRequiresTls: z.boolean().default(true),
      /** RFC 1939 §3: an idle session is closed after at least 10 minutes. */
      idleTimeoutSeconds: duration.default(600),
      sessionTimeoutSeconds: duration.default(3600),
      maxConnections: z.number().int().positive().default(500),
      maxConnectionsPerIp: z.number().int().positive().default(20),
      /** Protocol errors tolerated in one session before it is closed. */
      maxErrors: z.number().int().positive().default(10),
    })
    .prefault({}),

  rpop: z
    .object({
      /** Poll the accounts' remote POP3 mailboxes (single servers and backends). */
      enabled: z.boolean().default(true),
      /** Polls under way at once. */
      maxConcurrentPolls: z.number().int().positive().default(4),
      /** Shortest poll interval an entry may ask for. */
      minIntervalSeconds: z.number().int().positive().default(60),
      /** Messages fetched in one poll; the rest wait for the next. */
      maxMessagesPerPoll: z.number().int().positive().default(100),
      /** Bytes fetched in one poll (a larger single message is still fetched alone). */
      maxBytesPerPoll: z.number().int().positive().default(104_857_600),
      /** Larger remote messages are skipped (left on the server) and logged. */
      maxMessageSize: z.number().int().positive().default(52_428_800),
      connectTimeoutSeconds: z.number().int().positive().default(30),
      commandTimeoutSeconds: z.number().int().positive().default(120),
      /** First back-off after a failed poll; it doubles per failure up to maxBackoffSeconds. */
      backoffSeconds: z.number().int().positive().default(60),
      maxBackoffSeconds: z.number().int().positive().default(21_600),
      /** First back-off after the remote server refused the credentials. */
      authBackoffSeconds: z.number().int().positive().default(1800),
      /** Key file sealing the stored passwords (AES-256-GCM); empty = dataDir/secrets/rpop.key. */
      keyFile: z.string().default(""),
    })
    .prefault({}),

  http: z
    .object({
      /** Admin API, /metrics and /healthz. */
      listen: listen.default("127.0.0.1:8080"),
    })
    .prefault({}),

  submitApi: z
    .object({
      /** The submission API (/submit/v1/) on the HTTP listener of single servers and backends. */
      enabled: z.boolean().default(true),
      /** An Idempotency-Key is remembered this long: a retry within it never sends twice. */
      idempotencySeconds: z.number().int().positive().default(86_400),
    })
    .prefault({}),

  submitted: z
    .object({
      /** Pick up *.sub files (PIPE module's Submitted folder) on single servers and backends. */
      enabled: z.boolean().default(true),
      /** The folder; empty = dataDir/Submitted. */
      dir: z.string().default(""),
      /** Scanned this often (and on file-system events). */
      pollSeconds: z.number().int().positive().default(5),
    })
    .prefault({}),

  auth: z
    .object({
      /** Wrong passwords per account (SMTP AUTH, POP3, submission API together) before it is locked. */
      maxFailures: z.number().int().positive().default(5),
      /** Failed logins per client address before logins from it are locked. */
      maxFailuresPerAddress: z.number().int().positive().default(20),
      /** The first lock; it doubles with each further failure, up to maxLockoutSeconds. */
      lockoutSeconds: z.number().int().positive().default(60),
      maxLockoutSeconds: z.number().int().positive().default(3600),
      /** Failures are forgotten after this long without another (and no lock running). */
      failureWindowSeconds: z.number().int().positive().default(3600),
    })
    .prefault({}),

  webadmin: z
    .object({
      /** Serve the WebAdmin pages under /admin/ on the HTTP listener. */
      enabled: z.boolean().default(true),
      /** A WebAdmin session ends after this long without a request. */
      sessionIdleSeconds: z.number().int().positive().default(1800),
      /** ... and this long after login at the latest. */
      sessionMaxSeconds: z.number().int().positive().default(43200),
      /** Wrong passwords allowed per administrator name before logins for it are throttled. */
      loginFreeFailures: z.number().int().positive().default(3),
      /** Wrong passwords allowed per client address before logins from it are throttled. */
      loginFreeFailuresPerAddress: z.number().int().positive().default(20),
      /** The first throttle lock; it doubles with each further failure. */
      loginLockSeconds: z.number().int().positive().default(2),
      loginMaxLockSeconds: z.number().int().positive().default(900),
      /** Log records kept in memory for the WebAdmin log viewer. */
      logBufferRecords: z.number().int().positive().max(1_000_000).default(5000),
    })
    .prefault({}),

  state: z
    .object({
      /** Shared state (directory, cluster): empty = dataDir/mailyard.db; a SQLite file path, sqlite:PATH or postgres://URL. */
      url: z.string().default(""),
      /** PostgreSQL: most connections this node holds (plus one for change notifications). */
      poolSize: z.number().int().positive().default(10),
      /** PostgreSQL: timeout for opening one connection. */
      connectTimeoutSeconds: z.number().int().positive().default(5),
      /** PostgreSQL: longest statement (statement_timeout); a slower one fails as temporary. */
      statementTimeoutSeconds: z.number().int().positive().default(10),
    })
    .prefault({}),

  cluster: z
    .object({
      /** static: every account has a home backend; dynamic: any backend may open it, one at a time. */
      kind: z.enum(["static", "dynamic"]).default("static"),
      /** Shared secret authenticating every inter-node link; required for frontend and backend roles. */
      secret: z.string().default(""),
      /** A file holding the secret (0600), read at start: keeps it off command lines; not with secret. */
      secretFile: z.string().default(""),
      /** Host other members use to reach this node's listeners; empty = each listener's own host. */
      advertise: z.string().default(""),
      heartbeatSeconds: z.number().int().positive().default(1),
      /** A member whose heartbeat is older than this is down. */
      downAfterSeconds: z.number().int().positive().default(5),
      /** Dynamic clusters: an account ownership lease lasts this long unless renewed. */
      leaseSeconds: z.number().int().positive().default(15),
      /** Dynamic clusters: a store is published only while the lease has this long left (≤ lease/4). */
      leaseMarginSeconds: z.number().nonnegative().default(2),
      /** Frontends cache cluster API answers this long (negative answers: negativeCacheSeconds). */
      cacheSeconds: duration.default(10),
      negativeCacheSeconds: duration.default(3),
      /** Timeout of one cluster API request. */
      apiTimeoutSeconds: z.number().int().positive().default(5),
      /** Submit Messages (DESIGN.md §3), registered for the other members to read. */
      submitMessages: z.enum(SUBMIT_MODES).default("default"),
      /** Remote Submit Log: the level of SUBMIT records (none, failure, major, problem, low, all). */
      submitLog: z.enum(SUBMIT_LOG_LEVELS).default("problem"),
      /** Remotely: members tried in turn before the message is queued here instead. */
      submitTries: z.number().int().min(1).max(10).default(2),
    })
    .prefault({}),

  local: z
    .object({
      /** Root of the Maildir mailboxes; empty = dataDir/mail. Dynamic clusters point every backend at one shared directory. */
      mailDir: z.string().default(""),
      /** Store mail for one local account straight into its mailbox before the 250 (no queue file). */
      deliverOnReceipt: z.boolean().default(true),
      /** smtp.overQuota = queue: a local recipient whose mailbox stays full bounces after this long. */
      overQuotaGiveUpHours: z.number().int().positive().default(24),
      /** Maildir files 0660 and folders 2770 (shared with the mail root's group) instead of 0600/0700. */
      mailGroupAccess: z.boolean().default(false),
    })
    .prefault({}),

  channel: z
    .object({
      /** Delivery channel (LMTP between members) listener on backends, host:port. */
      listen: listen.default("127.0.0.1:2424"),
      /** Idle channel connections are kept this long for reuse. */
      idleKeepSeconds: duration.default(30),
      /** Timeout for each channel reply (after the message: per recipient). */
      timeoutSeconds: z.number().int().positive().default(120),
    })
    .prefault({}),

  queue: z
    .object({
      /** Past this many messages in the queue new mail gets 452 4.3.1. */
      maxMessages: z.number().int().positive().default(100_000),
      /** First retry after this many seconds; each later delay doubles up to maxRetrySeconds. */
      firstRetrySeconds: duration.default(60),
      maxRetrySeconds: duration.default(1800),
      /** Delay warnings are sent when a recipient has waited this long (each threshold once). */
      delayWarningSeconds: z.array(duration).default([4 * 3600]),
      /** Give up (bounce) after this long in the queue. */
      maxLifetimeSeconds: duration.default(5 * 86400),
      /** Deliveries under way at once, in total and to one destination. */
      maxConcurrency: z.number().int().positive().default(100),
      maxPerDestination: z.number().int().positive().default(20),
      /** Most recipients in one outbound SMTP transaction. */
      maxRecipientsPerTransaction: z.number().int().positive().default(100),
      /** Cluster members: a copy of each queue file on a live peer of the same role before the 250. */
      shadow: z.enum(SHADOW_MODES).default("preferred"),
      /** Longest wait for the peer's acknowledgement of a batch of copies. */
      shadowTimeoutSeconds: z.number().int().positive().default(10),
      /** Copies of other members' messages this node holds at most (new ones are refused past it). */
      shadowMaxMessages: z.number().int().positive().default(200_000),
      /** Bytes of other members' copies this node keeps on disk at most. */
      shadowMaxBytes: z
        .number()
        .int()
        .positive()
        .default(10 * 1024 * 1024 * 1024),
      /** A member silent this long has its messages taken over by the peer holding their copies. */
      takeoverLeaseSeconds: z.number().int().positive().default(60),
      /** What a node that finds its messages taken over does with its own copies of them. */
      takenEntries: z.enum(TAKEN_ENTRY_ACTIONS).default("drop"),
    })
    .prefault({}),

  log: z
    .object({
      /** Default level 0–5 (0 Crashes Only … 5 All Info). */
      level: z.number().int().min(0).max(5).default(2),
      /** Per-tag levels, e.g. { SMTP = 5 }. */
      levels: z.record(z.string(), z.number().int().min(0).max(5)).default({}),
      stdout: z.boolean().default(true),
      /** Log directory; empty = dataDir/logs. Files rotate daily (mailyard-YYYY-MM-DD.log). */
      dir: z.string().default(""),
    })
    .prefault({}),
});

export type Settings = z.infer<typeof settingsSchema>;

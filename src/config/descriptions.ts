// One line of meaning per setting, keyed by dotted key; kept beside settings.ts because zod
// schemas carry no doc comments at run time. keys.test.ts checks this table against the schema.

export const DESCRIPTIONS: Readonly<Record<string, string>> = {
  dataDir: "Where the queue, the directory, mailboxes, logs, TLS material and the admin token live.",
  hostname: "Name used in the SMTP greeting, EHLO, Received: headers and DSNs.",
  role: "What this node does: single (everything in one process), frontend or backend.",
  "node.id": "This node's id, unique in a cluster; appears in logs and health output.",

  "smtp.listen": "SMTP (MX) listeners, host:port each.",
  "smtp.forwardTo":
    "Send all non-local mail through these host:port relays instead of MX lookup; * sends it to a live frontend. Empty: direct MX delivery.",
  "smtp.forwardTls":
    "TLS to the host:port entries of smtp.forwardTo (not *): opportunistic (STARTTLS when offered, certificate not checked), starttls (STARTTLS required) or implicit (TLS from the first byte, port 465 by default). A host that cannot do it is skipped with a 4.7.x reason; the mail is deferred, never bounced.",
  "smtp.forwardVerify":
    "With smtp.forwardTls starttls or implicit: the certificate must chain to smtp.forwardCaFile (or Node's root CAs) and name the host as written in smtp.forwardTo; otherwise the host is skipped with 4.7.5. false: any certificate.",
  "smtp.forwardCaFile":
    "PEM bundle of the CAs trusted for smtp.forwardVerify, read at start. Empty: Node's root CAs.",
  "smtp.forwardAuthFile":
    "A file holding username:password for SMTP AUTH (PLAIN, else LOGIN) to the host:port entries of smtp.forwardTo, read at start; refused when group or others may read it. Credentials are only ever sent over TLS. Empty: no AUTH.",
  "smtp.proxyProtocolFrom":
    "Load balancer networks (CIDR) whose connections must start with a PROXY v1 or v2 header; others may not send one.",
  "smtp.relayNetworks": "Client networks (CIDR) allowed to relay without AUTH. Empty: none.",
  "smtp.maxMessageSize": "Largest message accepted, in bytes (announced with SIZE).",
  "smtp.maxRecipients": "Most RCPT TO accepted in one transaction.",
  "smtp.maxCommandLine":
    "Longest command line accepted, in bytes including CRLF (at least 512, RFC 5321 §4.5.3.1.4).",
  "smtp.maxDataLine":
    "Longest message line accepted, in bytes including CRLF (at least 1000), over DATA and BDAT alike (a BODY=BINARYMIME body has no lines).",
  "smtp.maxHeaderBytes":
    "Largest header section accepted, folded lines included, in bytes (refused with 552 5.3.4 at the end of the data; every inbound path).",
  "smtp.maxHeaderFields":
    "Most header fields accepted in one message (refused with 554 5.6.0 at the end of the data; every inbound path).",
  "smtp.maxErrors": "Protocol errors tolerated in one session before it is closed with 421.",
  "smtp.idleTimeoutSeconds": "A session waiting this long for the client's next command is closed.",
  "smtp.sessionTimeoutSeconds": "Longest time one SMTP session may last.",
  "smtp.maxConnections": "Most inbound SMTP connections at once, over all listeners.",
  "smtp.maxConnectionsPerIp": "Most inbound SMTP connections at once from one client address.",
  "smtp.vrfy": "Answer VRFY with whether an address exists (false: VRFY gives no address information).",
  "smtp.postmaster":
    "Where mail to the bare <Postmaster> and to postmaster@ a local domain without its own postmaster account or alias goes (RFC 5321 §4.5.1). Empty: postmaster@ the first local domain.",
  "smtp.milters":
    "Filter plugins spoken to with the milter protocol (rspamd, clamav-milter, OpenDKIM), in order: inet:host:port or unix:/path, optionally followed by events=…, defaultAction=…, connectTimeout=…, commandTimeout=…, contentTimeout=… (docs/FILTERS.md). Frontends and single servers only. Empty: none.",
  "smtp.milterDefaultAction":
    "What a milter that cannot be reached, times out or breaks the protocol means for the session: tempfail (4xx, as Postfix's milter_default_action), accept (go on without it) or reject (5xx).",
  "smtp.milterConnectTimeoutSeconds":
    "Timeout for connecting to a milter (Postfix's milter_connect_timeout).",
  "smtp.milterCommandTimeoutSeconds":
    "Timeout for a milter's answer to negotiation, connect, HELO, MAIL, RCPT and DATA (milter_command_timeout).",
  "smtp.milterContentTimeoutSeconds":
    "Timeout for a milter's answer to a header, a body chunk and the end of the message (milter_content_timeout).",
  "smtp.forbidUnauthPipelining":
    "Disconnect a client that has not logged in with 554 5.5.0 when it sends more before the reply to a command that must end a pipelined group (EHLO, HELO, DATA, NOOP, VRFY; RFC 2920 §3.1), or pipelines without PIPELINING, as Postfix's smtpd_forbid_unauth_pipelining does.",
  "smtp.authRequiresTls": "Offer AUTH only over TLS (false allows AUTH in the clear, e.g. on loopback).",
  "smtp.tls.cert":
    "PEM certificate file; when cert and key are both empty a self-signed pair is made under dataDir/tls.",
  "smtp.tls.key": "PEM private key file for smtp.tls.cert.",
  "smtp.overQuota":
    "Recipient over quota. reject: 452 4.2.2 at RCPT, 552 5.2.2 at end of data when no recipient has room for the message, and a bounce (one DSN) for a recipient without room when others have it. queue: accept and keep retrying, until local.overQuotaGiveUpHours.",
  "smtp.senderLogin":
    "Sender binding for authenticated sessions: enforce (MAIL FROM 553 5.7.1 and From: 550 5.7.1 unless the account owns the address: itself, its aliases, its grants), envelope (MAIL FROM only; <> passes), off.",
  "smtp.verifyLocalSenders":
    "Unauthenticated MAIL FROM in a local domain that is no account or alias gets 550 5.7.1 (null sender and smtp.relayNetworks pass).",
  "smtp.localSenderFromOutside":
    "Unauthenticated mail from outside smtp.relayNetworks with a sender in a local domain: accept, or reject (550 5.7.1 at MAIL).",
  "smtp.authChecks":
    "SPF, DKIM, ARC and DMARC checks, recorded in one Authentication-Results header, on mail from outside (smtp listener, not logged in, not from smtp.relayNetworks) on single servers and frontends.",
  "smtp.dmarcPolicy":
    "DMARC fail: honour the From: domain's policy (p=reject: 550 5.7.1, p=quarantine: X-Mailyard-Quarantine: dmarc), mark (both only the header), or off (no DMARC check).",
  "smtp.spfFail":
    "SPF fail: mark (recorded in Authentication-Results) or reject (550 5.7.23 at end of data).",
  "smtp.outbound.helo": "Name sent in EHLO to other servers; empty: hostname.",
  "smtp.outbound.connectTimeoutSeconds": "Timeout for connecting to a remote server.",
  "smtp.outbound.commandTimeoutSeconds": "Timeout for each reply while talking to a remote server.",
  "smtp.outbound.dataTimeoutSeconds":
    "Timeout for the reply after end of data (RFC 5321 §4.5.3.2.6: 10 minutes).",
  "smtp.outbound.starttls":
    "Use STARTTLS when the remote server offers it (opportunistic; certificates not verified).",
  "smtp.outbound.chunking":
    "Send messages with BDAT (RFC 3030) to servers that offer CHUNKING and PIPELINING: commands and message in one write, no dot-stuffing, one round trip fewer. false: always DATA.",
  "smtp.outbound.maxMessagesPerConnection": "Messages sent over one outbound connection before it is closed.",
  "smtp.outbound.idleKeepSeconds":
    "An idle outbound connection is kept this long for the next message to that destination.",
  "smtp.outbound.caFile":
    "PEM CA bundle trusted besides the system CAs when an outbound server certificate is verified (REQUIRETLS messages, the verify and mta-sts policies, the HTTPS fetch of MTA-STS policies). Empty: the system CAs only.",
  "smtp.outbound.tlsPolicy":
    "What the MX hosts of a recipient domain must show before mail goes to them: opportunistic (STARTTLS when offered, certificate not checked), verify (STARTTLS and a certificate that chains to the system CAs or smtp.outbound.caFile and names the MX host), mta-sts (the domain's MTA-STS policy, RFC 8461, when it publishes one; else opportunistic) or dane (DANE TLSA records, RFC 7672, where DNSSEC-secure through smtp.outbound.daneResolver; else MTA-STS; else opportunistic). A host that fails its policy is skipped; with none left the recipient is deferred with a 4.7.x reason. Smarthosts follow smtp.forwardTls instead. `mailyard tls check DOMAIN` shows what applies.",
  "smtp.outbound.tlsPolicies":
    'Per recipient domain, a policy other than smtp.outbound.tlsPolicy (same values), e.g. { "bank.example" = "verify" }; env and --set: bank.example=verify,other.example=dane. Subdomains are not included.',
  "smtp.outbound.daneResolver":
    "IP address and port of a DNSSEC-validating resolver (e.g. a local unbound on 127.0.0.1:53) asked for MX and TLSA records with the DO bit; its AD bit is trusted, so it must be on loopback or a trusted path. Required for the dane policy. Empty: no DANE.",
  "smtp.outbound.tlsReports":
    "Send a daily TLS-RPT report (RFC 8460) for each recipient domain that had TLS policy results and publishes a _smtp._tls record with mailto: rua addresses.",
  "smtp.outbound.policyTimeoutSeconds":
    "Time limit of one MTA-STS policy fetch (HTTPS, at most 64 KB) and of one query to smtp.outbound.daneResolver.",
  "smtp.outbound.port": "Port used for MX hosts (25 on the Internet; tests point it elsewhere).",

  "submission.listen": "Submission listeners (AUTH required to send), host:port each. Empty: off.",
  "submissions.listen":
    "Submission listeners with implicit TLS (RFC 8314; port 465 on the Internet): the TLS handshake comes first, then the submission listener's rules (AUTH required to send). host:port each; on single servers and cluster members that have a submission listener. Empty: off.",
  "pop3.listen":
    "POP3 listeners (RFC 1939 mailbox access and XTND XMIT submission) on single servers and backends, host:port each. Empty: off.",
  "pop3.authRequiresTls":
    "Accept USER/PASS and AUTH only after STLS (false allows them in the clear, e.g. on loopback).",
  "pop3.idleTimeoutSeconds": "A POP3 session waiting this long for the client's next command is closed.",
  "pop3.sessionTimeoutSeconds": "Longest time one POP3 session may last.",
  "pop3.maxConnections": "Most POP3 connections at once, over all POP3 listeners.",
  "pop3.maxConnectionsPerIp": "Most POP3 connections at once from one client address.",
  "pop3.maxErrors": "Protocol errors tolerated in one POP3 session before it is closed.",
  "rpop.enabled": "Poll the accounts' remote POP3 mailboxes (RPOP entries) on single servers and backends.",
  "rpop.maxConcurrentPolls": "RPOP polls under way at once.",
  "rpop.minIntervalSeconds": "Shortest poll interval an RPOP entry may have.",
  "rpop.maxMessagesPerPoll": "Messages fetched in one RPOP poll; the rest wait for the next poll.",
  "rpop.maxBytesPerPoll": "Bytes fetched in one RPOP poll (one larger message is still fetched on its own).",
  "rpop.maxMessageSize": "Remote messages larger than this are left on the server and logged.",
  "rpop.connectTimeoutSeconds": "Timeout for connecting to a remote POP3 server.",
  "rpop.commandTimeoutSeconds": "Timeout for each reply of a remote POP3 server.",
  "rpop.backoffSeconds":
    "First back-off after a failed RPOP poll; it doubles with each failure up to rpop.maxBackoffSeconds.",
  "rpop.maxBackoffSeconds": "Longest back-off of a failing RPOP entry or host.",
  "rpop.authBackoffSeconds":
    "First back-off after a remote POP3 server refused an entry's credentials (doubles, capped as above).",
  "rpop.keyFile":
    "Key file that seals the stored RPOP passwords (AES-256-GCM); empty: dataDir/secrets/rpop.key, made (0600) on first use. Every member sharing the state needs the same file.",
  "http.listen": "Admin API, /metrics and /healthz listener, host:port.",
  "auth.maxFailures":
    "Wrong passwords per account before its logins are locked, counted over SMTP AUTH, POP3 and the submission API together and across the cluster (the shared state); locked logins get 454 4.7.0, -ERR [AUTH] or 429 without a password check.",
  "auth.maxFailuresPerAddress":
    "Failed logins per client address (IPv6: per /64), over every account and service, before logins from it are locked.",
  "auth.lockoutSeconds":
    "The first lock after too many failures; each further failure doubles it, up to auth.maxLockoutSeconds.",
  "auth.maxLockoutSeconds": "The longest login lock.",
  "auth.failureWindowSeconds":
    "Failed logins are forgotten after this long without another (and no lock running).",
  "webadmin.enabled":
    "Serve the WebAdmin pages under /admin/ on the HTTP listener (they use the admin API with a login session).",
  "webadmin.sessionIdleSeconds": "A WebAdmin login session ends after this long without a request.",
  "webadmin.sessionMaxSeconds": "A WebAdmin login session ends this long after login at the latest.",
  "webadmin.loginFreeFailures":
    "Wrong passwords allowed per administrator name before its logins are throttled (exponentially growing locks).",
  "webadmin.loginFreeFailuresPerAddress":
    "Wrong passwords allowed per client address before logins from it are throttled.",
  "webadmin.loginLockSeconds":
    "The first throttle lock after too many wrong passwords; each further failure doubles it.",
  "webadmin.loginMaxLockSeconds": "The longest throttle lock.",
  "webadmin.logBufferRecords": "Log records kept in memory per node for the WebAdmin log viewer.",

  "submitApi.enabled":
    "Serve the submission API (/submit/v1/messages, /submit/v1/raw; HTTP Basic as the account) on http.listen of single servers and backends.",
  "submitApi.idempotencySeconds":
    "An Idempotency-Key is remembered this long (in dataDir/submit-keys.db): a retried request within it gets the first answer and never sends twice.",
  "submitted.enabled":
    "Pick up *.sub files from the Submitted folder (RFC 5322 messages, optional Envelope-From/Envelope-To/Envelope-Ignore lines) on single servers and backends.",
  "submitted.dir":
    "The Submitted folder; empty: dataDir/Submitted. mailyard sendmail writes here when no node runs.",
  "submitted.pollSeconds": "The Submitted folder is scanned this often, and on file-system events.",
  "state.url":
    "Shared state (directory, cluster members, settings, leases, limit counters): empty = dataDir/mailyard.db; a SQLite file path or sqlite:PATH shared by the nodes of one machine; postgres://USER:PASSWORD@HOST:PORT/DB for a cluster of machines.",
  "state.poolSize":
    "PostgreSQL state: most database connections this node holds at once (plus one for change notifications).",
  "state.connectTimeoutSeconds": "PostgreSQL state: timeout for opening one database connection.",
  "state.statementTimeoutSeconds":
    "PostgreSQL state: longest a statement may run (statement_timeout); past it the operation fails as temporary (4xx).",
  "cluster.kind":
    "static (every account has a home backend) or dynamic (any backend may open an account, one at a time).",
  "cluster.secret":
    "Shared secret that authenticates the cluster API and the delivery channel; required for frontend and backend roles. Prefer cluster.secretFile or the environment: a command line is readable by every local user.",
  "cluster.secretFile":
    "A file (mode 0600) whose content is the cluster secret, read when the node starts; use it or cluster.secret, not both. `mailyard cluster up` passes this, never the secret.",
  "cluster.advertise":
    "Host other members use to reach this node's listeners; empty: each listener's own host.",
  "cluster.heartbeatSeconds": "How often this node writes its heartbeat to the cluster state.",
  "cluster.downAfterSeconds": "A member whose last heartbeat is older than this is down.",
  "cluster.leaseSeconds":
    "Dynamic clusters: an account ownership lease lasts this long unless its owner renews it.",
  "cluster.leaseMarginSeconds":
    "Dynamic clusters: right before a message is renamed into a mailbox, the backend must still hold the account's lease for at least this long, else it abandons the store (451 4.3.0; the next owner takes the retry). At most a quarter of cluster.leaseSeconds is used, so stores between two renewals are not fenced off.",
  "cluster.cacheSeconds": "Frontends cache cluster API answers this long.",
  "cluster.negativeCacheSeconds":
    "Frontends cache negative cluster API answers (unknown address, bad password) this long.",
  "cluster.apiTimeoutSeconds":
    "Timeout of one cluster API request; past it the frontend tries the next backend, then answers 4xx.",
  "cluster.submitMessages":
    "Submit Messages: where mail generated or submitted on this node is enqueued. Locally: here; Locally for Others: here, and other members may hand theirs to this node; Remotely: to a live Locally for Others member, here if none takes it; default: the cluster default, else Locally (Locally for Others on a dynamic frontend, Remotely on a dynamic backend when some member is Locally for Others). `mailyard settings set` changes it live.",
  "cluster.submitLog":
    "Remote Submit Log: the level of SUBMIT log records (which message went where, why it fell back). `mailyard settings set` changes it live.",
  "cluster.submitTries":
    "Remotely: how many Locally for Others members are tried in turn before the message is queued here.",
  "local.mailDir":
    "Root of the Maildir mailboxes (<mailDir>/<domain>/<local part>/); empty: dataDir/mail. In a dynamic cluster every backend points at the same shared directory.",
  "local.deliverOnReceipt":
    "Mail whose only recipient is a local account is stored straight into its Maildir before the 250 (no queue file); mail with other recipients, NOTIFY=SUCCESS, or a quota it might exceed takes the queue. false: all mail goes through the queue.",
  "local.overQuotaGiveUpHours":
    "With smtp.overQuota = queue: a local recipient whose mailbox is still full this many hours after the message arrived bounces (a DSN saying the mailbox is full) instead of waiting for queue.maxLifetimeSeconds.",
  "local.mailGroupAccess":
    "Maildir files 0660 and folders 2770 (setgid: new folders keep the group of the mail root) instead of 0600 and 0700, for a mail reader such as Dovecot run under that group; chgrp the mail root to it. false: mail is readable by the node's user only.",
  "channel.listen": "Delivery channel (authenticated LMTP between members) listener on backends, host:port.",
  "channel.idleKeepSeconds": "Idle delivery channel connections are kept this long for reuse.",
  "channel.timeoutSeconds": "Timeout for each delivery channel reply.",

  "queue.maxMessages": "Past this many messages in the queue new mail gets 452 4.3.1.",
  "queue.firstRetrySeconds":
    "First retry after this many seconds; each later delay doubles up to queue.maxRetrySeconds.",
  "queue.maxRetrySeconds": "Longest delay between two attempts for one recipient.",
  "queue.delayWarningSeconds":
    "Send a delay warning DSN when a recipient has waited this long (each threshold once).",
  "queue.maxLifetimeSeconds": "Give up (bounce) after a message has been this long in the queue.",
  "queue.maxConcurrency": "Deliveries under way at once, in total.",
  "queue.maxPerDestination": "Deliveries under way at once to one destination.",
  "queue.shadow":
    "Cluster members: before answering 250 the node sends the whole queue file to one live peer of its role and waits for that peer's fsync too. preferred: a message is accepted without a copy when no peer can take one (logged, counted, copied later); required: 451 4.3.0 then; off: no copies. A single server has no peer, so preferred there is off.",
  "queue.shadowTimeoutSeconds":
    "Longest wait for a peer to acknowledge a batch of shadow copies; past it the copy has failed (preferred: 250 without it, required: 451).",
  "queue.shadowMaxMessages":
    "Shadow copies of other members' messages this node holds at most; past it new copies are refused (the primary answers as its queue.shadow says).",
  "queue.shadowMaxBytes": "Bytes of shadow copies this node keeps on disk at most (dataDir/shadows).",
  "queue.takeoverLeaseSeconds":
    "A member whose heartbeat is older than this has its spool taken over: the peer holding its shadow copies takes its epoch and delivers them from its own queue.",
  "queue.takenEntries":
    "A node that starts and finds its spool was taken over: drop the queue entries whose copies were promoted (delivered by the peer), or hold them for the operator.",
  "queue.maxRecipientsPerTransaction": "Most recipients in one outbound SMTP transaction.",

  "log.level":
    "Default log level 0–5 (0 Crashes Only, 1 Failures, 2 Major, 3 Problems, 4 Low Level, 5 All Info).",
  "log.levels": "Per-tag levels over log.level, e.g. { SMTP = 5 } (env and --set: SMTP=5,QUEUE=4).",
  "log.stdout": "Also write log records to standard output.",
  "log.dir": "Log directory; empty: dataDir/logs. Files rotate daily (mailyard-YYYY-MM-DD.log, UTC).",
};

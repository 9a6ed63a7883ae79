// SMTP replies as values: code, enhanced status code (RFC 3463) and text. Every reply Mailyard
// makes with a fixed code lives in REPLIES, the ones with variable text as forms whose `{slot}`s
// are filled in where they are made; reply.test.ts checks code and enhanced class agree, that
// no entry is there twice and that each is used, and that docs/REPLIES.md lists them all.
// No I/O here.

export interface Reply {
  readonly code: number;
  /** "x.y.z" or null where no enhanced code applies (greeting, HELO/EHLO, 354/334). */
  readonly enhanced: string | null;
  /** One or more lines of text; multi-line replies use "code-" continuation. */
  readonly text: string;
}

export const reply = (code: number, enhanced: string | null, text: string): Reply => ({
  code,
  enhanced,
  text,
});

type Slots<S extends string> = S extends `${string}{${infer P}}${infer R}` ? P | Slots<R> : never;

/** A reply with a fixed code and enhanced code whose text has `{slot}`s, as the catalogue lists it. */
export interface ReplyTemplate {
  readonly code: number;
  readonly enhanced: string | null;
  readonly template: string;
}

/** Call it with a value for every slot of its template to make the reply. */
export interface ReplyForm<S extends string> extends ReplyTemplate {
  (values: Readonly<Record<Slots<S>, string | number>>): Reply;
  readonly template: S;
}

export function form<const S extends string>(
  code: number,
  enhanced: string | null,
  template: S,
): ReplyForm<S> {
  // One pass: a value that itself contains "{x}" is not filled in again.
  const make = (values: Readonly<Record<string, string | number>>): Reply =>
    reply(
      code,
      enhanced,
      template.replace(/\{(\w+)\}/g, (_, k: string) => String(values[k])),
    );
  return Object.assign(make, { code, enhanced, template });
}

export const isPositive = (r: Reply): boolean => r.code >= 200 && r.code < 400;
export const isTemporary = (r: Reply): boolean => r.code >= 400 && r.code < 500;
export const isPermanent = (r: Reply): boolean => r.code >= 500;

/**
 * Wire form of a reply: CRLF-terminated, multi-line with "-" continuation (RFC 5321 §4.2.1),
 * enhanced code prefixed on every line when the extension is in force (RFC 2034 §4).
 */
export function formatReply(r: Reply, enhancedCodes = true): string {
  const lines = r.text.split(/\r?\n/);
  const prefix = enhancedCodes && r.enhanced !== null ? `${r.enhanced} ` : "";
  let out = "";
  for (let i = 0; i < lines.length; i++) {
    const sep = i === lines.length - 1 ? " " : "-";
    out += `${r.code}${sep}${prefix}${lines[i] ?? ""}\r\n`;
  }
  return out;
}

/** A reply on one line, code and enhanced code first, as a peer's words go into our own texts. */
export const replyLine = (r: Reply): string =>
  `${r.code} ${r.enhanced !== null ? r.enhanced + " " : ""}${r.text.replace(/\n/g, " ")}`;

/**
 * The replies of Mailyard. Replies passed on from a peer, or adjusted from one (an LMTP
 * per-recipient answer, a relay's last error), are built with reply() where they are made.
 */
export const REPLIES = {
  ok: reply(250, "2.0.0", "OK"),
  okSender: reply(250, "2.1.0", "Sender OK"),
  okRecipient: reply(250, "2.1.5", "Recipient OK"),
  okReset: reply(250, "2.0.0", "Reset OK"),
  bye: reply(221, "2.0.0", "Bye"),
  startData: reply(354, null, "End data with <CR><LF>.<CR><LF>"),
  readyTls: reply(220, "2.0.0", "Ready to start TLS"),
  authOk: reply(235, "2.7.0", "Authentication successful"),
  vrfyCannot: reply(252, "2.5.2", "Cannot VRFY user, but will accept message and attempt delivery"),
  help: reply(
    214,
    "2.0.0",
    "See RFC 5321; commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH",
  ),

  serviceUnavailable: reply(421, "4.3.2", "Service not available, closing transmission channel"),
  idleTimeout: reply(421, "4.4.2", "Idle timeout, closing connection"),
  sessionTimeout: reply(421, "4.4.2", "Session too long, closing connection"),
  tooManyConnections: reply(421, "4.7.0", "Too many connections, try again later"),
  tooManyConnectionsFromIp: reply(421, "4.7.0", "Too many connections from your address, try again later"),
  tooManyErrors: reply(421, "4.7.0", "Too many errors, closing connection"),
  queueFull: reply(452, "4.3.1", "Insufficient system storage, try again later"),
  queueWriteFailed: reply(451, "4.3.0", "Temporary failure writing the message, try again later"),
  tooManyRecipients: reply(452, "4.5.3", "Too many recipients"),
  overQuotaTemp: reply(452, "4.2.2", "Mailbox full"),
  senderOverLimit: reply(450, "4.7.1", "Sender has exceeded the sending limit, try again later"),
  recipientOverLimit: reply(450, "4.7.1", "Recipient has exceeded the receiving limit, try again later"),
  directoryUnavailable: reply(451, "4.3.0", "Directory temporarily unavailable"),
  // An account of a static cluster with no home backend: nowhere to store it yet (RFC 3463 4.2.0).
  noHomeBackend: reply(450, "4.2.0", "Mailbox has no home backend yet, try again later"),
  tlsNotAvailable: reply(454, "4.7.0", "TLS not available"),
  authTempFail: reply(454, "4.7.0", "Temporary authentication failure"),
  // RFC 4954 §6: 454 4.7.0 is temporary; the same text whether or not the account exists.
  authThrottled: reply(454, "4.7.0", "Too many failed authentications, try again later"),

  syntaxError: reply(500, "5.5.2", "Syntax error, command unrecognized"),
  lineTooLong: reply(500, "5.5.6", "Line too long"),
  paramSyntax: reply(501, "5.5.4", "Syntax error in parameters or arguments"),
  badSenderSyntax: reply(501, "5.1.7", "Bad sender address syntax"),
  badRecipientSyntax: reply(501, "5.1.3", "Bad recipient address syntax"),
  notImplemented: reply(502, "5.5.1", "Command not implemented"),
  vrfyDisabled: reply(502, "5.5.1", "VRFY command is disabled"),
  badSequence: reply(503, "5.5.1", "Bad sequence of commands"),
  needMail: reply(503, "5.5.1", "Need MAIL command first"),
  needRcpt: reply(503, "5.5.1", "Need RCPT command first"),
  alreadyMail: reply(503, "5.5.1", "Sender already specified"),
  alreadyAuth: reply(503, "5.5.1", "Already authenticated"),
  alreadyTls: reply(503, "5.5.1", "TLS already active"),
  needHelo: reply(503, "5.5.1", "Send HELO/EHLO first"),
  authMechUnknown: reply(504, "5.5.4", "Unrecognized authentication type"),
  unknownUser: reply(550, "5.1.1", "No such user here"),
  mailboxDisabled: reply(550, "5.2.1", "Mailbox disabled, not accepting messages"),
  relayDenied: reply(554, "5.7.1", "Relay access denied"),
  // RFC 7489 §6.7 (the From: domain's p=reject) and RFC 7372 §3.2 (SPF fail), at end of data.
  dmarcReject: reply(550, "5.7.1", "Rejected by the DMARC policy of the From: domain"),
  spfReject: reply(550, "5.7.23", "SPF validation failed"),
  // Sender policy (src/inbound/sender-policy.ts); the per-address refusals are built there.
  unknownLocalSender: reply(550, "5.7.1", "Sender address rejected: no such address in a local domain"),
  localSenderFromOutside: reply(550, "5.7.1", "Sender address in a local domain: authenticate to send as it"),
  fromRequired: reply(550, "5.7.1", "A null sender needs a From: address owned by the authenticated user"),
  fromUncheckable: reply(550, "5.7.1", "From: header has no address that can be checked against the login"),
  messageTooBig: reply(552, "5.3.4", "Message size exceeds fixed maximum message size"),
  // smtp.overQuota = reject: no room for a message whose size is known (end of data, delivery).
  overQuotaPerm: reply(552, "5.2.2", "Mailbox full"),
  // The header section's limits (src/proto/header-limit.ts), at the end of the data.
  headerTooBig: reply(552, "5.3.4", "Message header exceeds fixed maximum size"),
  tooManyHeaderFields: reply(554, "5.6.0", "Message header has too many fields"),
  authRequired: reply(530, "5.7.0", "Authentication required"),
  /** RFC 8689 §4.1: REQUIRETLS is only for a session that is itself over TLS. */
  requireTlsWithoutTls: reply(530, "5.7.10", "REQUIRETLS needs a TLS session (STARTTLS first)"),
  encryptionRequired: reply(538, "5.7.11", "Encryption required for requested authentication mechanism"),
  authFailed: reply(535, "5.7.8", "Authentication credentials invalid"),
  authCancelled: reply(501, "5.0.0", "Authentication cancelled"),
  authTooLong: reply(500, "5.5.6", "Authentication exchange line too long"),
  bareLineEnding: reply(554, "5.6.11", "Bare CR or LF in message data is not allowed; use CRLF line endings"),
  // RFC 6152 §3 / RFC 3030 §3: the body must be what MAIL FROM declared (BODY=, SMTPUTF8).
  eightBitUndeclared: reply(554, "5.6.0", "8-bit message data requires BODY=8BITMIME or SMTPUTF8"),
  nulInText: reply(554, "5.6.0", "NUL in message data requires BODY=BINARYMIME"),
  // RFC 3030 §3: a BINARYMIME message that cannot be passed on as it is is returned (5.6.3).
  binaryNotCarried: reply(
    554,
    "5.6.3",
    "Conversion required but not supported: BODY=BINARYMIME cannot reach a mailbox of this cluster",
  ),
  utf8NotEnabled: reply(553, "5.6.7", "Non-ASCII address requires SMTPUTF8"),
  noValidRecipients: reply(554, "5.5.1", "No valid recipients"),
  // Added by the SMTP engine (src/smtp/server).
  paramUnknown: reply(555, "5.5.4", "MAIL FROM/RCPT TO parameter not recognized or not implemented"),
  localError: reply(451, "4.3.0", "Local error in processing, try again later"),
  // Milters (src/inbound/milters.ts): a verdict without a reply code of its own, and a milter
  // that is down under smtp.milterDefaultAction tempfail or reject (Postfix's wording). A
  // discarded message is answered with the plain `ok`, as if it had been accepted.
  milterTempfail: reply(451, "4.7.1", "Service unavailable - try again later"),
  milterReject: reply(550, "5.7.1", "Command rejected"),
  milterConnectReject: reply(554, "5.7.1", "Connection rejected"),
  binaryNeedsBdat: reply(503, "5.5.1", "BODY=BINARYMIME requires BDAT, not DATA"),
  dataLineTooLong: reply(500, "5.5.6", "Line too long in message data"),
  earlyTalker: reply(554, "5.5.0", "Protocol error: client sent data before the greeting"),
  outOfStep: reply(554, "5.5.0", "Error: SMTP protocol synchronization"),
  forbiddenCommand: reply(554, "5.7.0", "Not an SMTP command, closing connection"),
  authInTransaction: reply(503, "5.5.1", "AUTH not allowed during a mail transaction"),
  // Added by the local delivery channel (src/delivery/local.ts).
  deliveredMailbox: reply(250, "2.0.0", "Delivered"),
  mailboxWriteFailed: reply(451, "4.3.0", "Temporary failure storing the message in the mailbox"),
  forwardingLoop: reply(550, "5.4.6", "Mail forwarding loop detected"),
  // Added by the delivery channel (src/cluster/channel: LMTP, RFC 2033).
  needLhlo: reply(503, "5.5.1", "Send LHLO first"),
  useLhlo: reply(500, "5.5.1", "This is LMTP: use LHLO"),
  lmtpNoRecipients: reply(503, "5.5.1", "No valid recipients"),
  // Added by the cluster roles (src/server, src/delivery/placed.ts).
  notHostedHere: reply(450, "4.3.0", "Account is not stored on this backend now, try again later"),
  // A dynamic cluster's store abandoned right before publishing: the account's lease was not
  // held with the safety margin (cluster.leaseMarginSeconds); its next owner takes the retry.
  storeFenced: reply(451, "4.3.0", "Account is changing hands between backends, try again later"),
  nodeStarting: reply(451, "4.3.0", "Node starting, try again later"),
  // RFC 3463 X.3.2: system not accepting network messages (an operator's drain).
  nodeDraining: reply(421, "4.3.2", "Node draining, try another server"),
  accountHeld: form(450, "4.3.0", "{reason}, try again later"),

  // Greetings and hellos: the text is the host's name (RFC 5321 §4.2: no enhanced code).
  greeting: form(220, null, "{host} ESMTP Mailyard"),
  lmtpGreeting: form(220, null, "{host} LMTP {nonce}"),
  heloOk: form(250, null, "{host}"),
  // One line per extension after the first (RFC 5321 §4.1.1.1, RFC 2033 §4.1).
  ehloOk: form(250, null, "{host} Hello {name}\n{extensions}"),
  lhloOk: form(250, null, "{host}\n{extensions}"),
  chunkReceived: form(250, "2.0.0", "{size} octets received"),
  queuedAs: form(250, "2.0.0", "OK queued as {id}"),
  queuedAsOn: form(250, "2.0.0", "OK queued as {id} on {node}"),
  deliveredAs: form(250, "2.0.0", "OK delivered as {id}"),

  // Acceptance (src/inbound, src/queue): aliases, rules, the local queue.
  aliasLoop: reply(550, "5.4.6", "Alias expansion loop"),
  aliasTooMany: reply(550, "5.7.0", "Alias expands to too many recipients"),
  // A Sieve reject or a rule's refusal: the text is the rule's, on one line.
  ruleRejected: form(550, "5.7.1", "{text}"),
  localQueueFull: reply(452, "4.3.1", "Queue full, try again later"),
  senderNotOwned: form(553, "5.7.1", "<{address}>: Sender address not owned by user {user}"),
  fromNotOwned: form(550, "5.7.1", "<{address}>: From: address not owned by user {user}"),
  operatorRejected: form(550, "5.0.0", "{text}"),
  deliveryLayerFailed: reply(451, "4.3.0", "Internal error in the delivery layer"),
  routeUndecided: reply(451, "4.3.0", "Cannot decide where to deliver, will retry"),

  // Remote submission between members (src/cluster/submit).
  memberAuthenticated: form(235, "2.7.0", "Member {id} authenticated"),
  membersOnly: reply(530, "5.7.0", "Remote submission is for authenticated cluster members only"),
  memberTlsRequired: reply(
    530,
    "5.7.0",
    "Must issue STARTTLS with a member certificate from the cluster CA naming this node first",
  ),
  badEnvelope: form(554, "5.6.0", "Bad envelope: {why}"),

  // Shadow copies between members (src/cluster/shadow).
  shadowsStored: form(250, "2.0.0", "{count} shadow records stored"),
  shadowStoreFull: reply(452, "4.3.1", "Shadow store full"),
  shadowBatchBad: form(554, "5.6.0", "Bad shadow batch: {why}"),
  shadowWriteFailed: reply(451, "4.3.0", "Temporary failure writing shadow copies"),
  noShadowPeer: reply(451, "4.3.0", "No cluster peer can hold a copy of the message, try again later"),

  // Outcomes of delivering to a next hop (src/delivery, src/channel, src/smtp/client).
  // RFC 3463: 4.4.x network and routing, 4.3.x local system, 4.5.0 protocol.
  connectFailed: form(451, "4.4.1", "connect to {relay}: {why}"),
  sessionRefused: form(451, "4.4.1", "{relay} refused the {stage}: {said}"),
  authRefused: form(451, "4.7.0", "{relay} refused the {stage}: {said}"),
  noClusterAuth: form(451, "4.7.0", "{relay} does not offer cluster authentication"),
  hostUnresolved: form(451, "4.4.3", "{why}"),
  hostRefused: form(451, "4.4.1", "host {relay} refused to talk to me: {said}"),
  noHost: reply(451, "4.4.1", "no host to connect to"),
  conversationFailed: form(451, "4.4.2", "{why}"),
  // Smarthost security (smtp.forwardTls, forwardVerify, forwardAuthFile): always deferred.
  // RFC 3463 / RFC 5248: 4.7.10 encryption needed, 4.7.5 cryptographic failure, 4.7.4 security
  // features not supported.
  tlsNotOffered: form(451, "4.7.10", "TLS is required, but was not offered by host {relay}"),
  tlsRefused: form(451, "4.7.10", "TLS is required, but host {relay} refused STARTTLS: {said}"),
  tlsFailed: form(451, "4.7.5", "TLS is required: {why}"),
  certificateUntrusted: form(451, "4.7.5", "TLS is required with a verified certificate: {why}"),
  authWithoutTls: form(
    451,
    "4.7.10",
    "Credentials are only sent over TLS, and host {relay} gave none (set smtp.forwardTls)",
  ),
  authNotOffered: form(451, "4.7.4", "Host {relay} offers no AUTH PLAIN or LOGIN ({offered})"),
  // The outbound TLS policy of the recipient domain (smtp.outbound.tlsPolicy, tlsPolicies;
  // delivery/relay/tls-policy.ts): always deferred, the host skipped. {policy} is DANE,
  // MTA-STS or verify.
  policyTlsMissing: form(451, "4.7.10", "TLS policy {policy} of {domain} requires TLS: {why}"),
  policyCertificate: form(
    451,
    "4.7.5",
    "TLS policy {policy} of {domain}: the certificate is not accepted: {why}",
  ),
  policyHandshake: form(451, "4.7.5", "TLS policy {policy} of {domain}: the TLS handshake failed: {why}"),
  policyMxNotListed: form(
    451,
    "4.7.0",
    "MTA-STS policy of {domain} (mode enforce) does not list MX host {host}",
  ),
  policyDnsFailed: form(
    451,
    "4.7.0",
    "DANE: the DNSSEC lookup of {name} failed ({why}), so no host of it is trusted",
  ),
  lostConnection: form(451, "4.4.2", "lost connection with {relay}"),
  noReply: reply(451, "4.4.2", "conversation ended without a reply"),
  unexpectedReply: form(451, "4.5.0", "unexpected reply: {code} {text}"),
  localFailure: form(451, "4.3.0", "{why}"),
  noTarget: form(451, "4.4.0", "{why}"),
  // RFC 3463 4.4.1 "no answer from host": the backend's sockets are open, its heartbeat lapsed.
  memberLapsed: form(451, "4.4.1", "backend {id} stopped answering (its heartbeat lapsed)"),
  routeFailed: form(451, "4.3.5", "{why}"),
  unknownRoute: form(451, "4.3.5", "unknown route {route}"),
  hostNotFound: form(
    550,
    "5.4.4",
    "Host or domain name not found. Name service error for name={host} type=A: Host not found",
  ),
  domainNotFound: form(
    550,
    "5.1.2",
    "Host or domain name not found. Name service error for name={domain} type=MX: Host not found",
  ),
  mxLookupFailed: form(
    451,
    "4.4.3",
    "Host or domain name not found. Name service error for name={domain} type=MX: {error}",
  ),
  nullMx: form(556, "5.1.10", "Domain {domain} does not accept mail (null MX)"),
  binaryNotOffered: form(
    554,
    "5.6.3",
    "Conversion required but not supported: BODY=BINARYMIME, and host {relay} does not offer BINARYMIME with CHUNKING",
  ),
  utf8NotOffered: form(554, "5.6.7", "SMTPUTF8 is required, but was not offered by host {relay}"),
  // RFC 8689 §4.2.1: a REQUIRETLS message that cannot keep its promise comes back.
  requireTlsNoTls: form(550, "5.7.10", "REQUIRETLS: host {relay} offers no TLS"),
  requireTlsUnverified: form(
    550,
    "5.7.10",
    "REQUIRETLS: the certificate of host {relay} does not verify (trusted CA and host name)",
  ),
  requireTlsNotOffered: form(
    550,
    "5.7.30",
    "REQUIRETLS support required, but host {relay} does not offer it",
  ),
  tooBigForHost: form(552, "5.3.4", "message size {size} exceeds size limit {limit} of server {relay}"),
  // An LMTP answer whose class disagreed with its outcome, replaced (src/channel/recipient-reply.ts).
  failed: reply(550, "5.0.0", "Failed"),
} as const satisfies Record<string, Reply | ReplyTemplate>;

// The receiving side's decisions, behind the SMTP engine: who may relay, who may claim which
// sender (sender-policy.ts: at MAIL, and on From: at end of data), which recipients exist
// and may receive, sender and recipient limits, and the hand-off to the durable queue. Input
// here has passed the engine's syntax and length checks but is otherwise untrusted. Aliases are
// expanded at RCPT time so an unknown or looping alias is refused before the data is sent; the
// queue gets the final addresses with the original kept for DSNs. A message is checked against
// the quotas again at its end, when its size is known (SIZE may be absent or too small; with
// smtp.overQuota = reject):
// 552 5.2.2 when no recipient has room for it, asked of the directory as at RCPT (on a frontend,
// of a backend over the cluster API); when some have room it is accepted and the mailbox channel
// bounces the others, one DSN.
import { NoShadowCopy } from "../cluster/shadow/spool.js";
import type { Account, RecipientLookup } from "../directory/directory.js";
import type { InboundDirectory } from "../cluster/api/types.js";
import { expandRecipient } from "../directory/expand.js";
import type { EnvelopeRecipient } from "../queue/envelope.js";
import type { EnvelopeDraft, Queue } from "../queue/types.js";
import { RuleRejected } from "../queue/rules-gate.js";
import type { Log } from "../log/logger.js";
import type { Metrics } from "../log/metrics.js";
import type { Clock } from "../world/clock.js";
import type { Settings } from "../config/settings.js";
import { REPLIES, type Reply } from "../proto/reply.js";
import type {
  AuthResult,
  EnvelopeChange,
  MessageSink,
  SessionInfo,
  SmtpHandler,
  Transaction,
} from "../smtp/handler.js";
import { HeaderCapture } from "./from-header.js";
import { parseNetworks } from "./networks.js";
import { receivedHeader } from "./received.js";
import { createSenderPolicy } from "./sender-policy.js";
import type { LocalReceipt, ReceiptSink } from "../queue/receipt.js";
import type { Submitter } from "../queue/submit.js";
import type { InboundAuthentication } from "./authentication.js";
import type { LoginGate } from "../state/login-gate.js";

export interface InboundOptions {
  readonly settings: Settings;
  /**
   * Cluster TLS: whether the member a client's certificate proves (SessionInfo.member) is
   * trusted like smtp.relayNetworks (a backend relaying with smtp.forwardTo = *).
   */
  readonly relayMember?: (id: string) => boolean;
  readonly directory: InboundDirectory;
  readonly queue: Queue;
  readonly clock: Clock;
  readonly log: Log;
  readonly metrics: Metrics;
  /** AUTH goes through it: one canonical name, throttled in the shared state, failures logged. */
  readonly login: LoginGate;
  /** Delivery at receipt for mail to one local account (receipt.ts); absent: always queue. */
  readonly receipt?: LocalReceipt;
  /**
   * Whether the cluster can store mail for this account at all (static clusters: it has a home
   * backend); a Reply refuses the RCPT (always temporary). Absent: every account can.
   */
  readonly storable?: (address: string) => Promise<Reply | null>;
  /**
   * Whether mail with these MAIL FROM parameters can reach a local account at all; a Reply
   * refuses the RCPT. In a cluster this is the delivery channel's own rule
   * (src/cluster/channel/carries.ts: no BINARYMIME), asked here before the 250 so that mail the channel
   * would refuse is never accepted and then bounced to a sender that may be forged. Absent:
   * every message can (a single server stores it as it is).
   */
  readonly carries?: (params: Transaction["params"]) => Reply | null;
  /**
   * Mail of this session goes through the Submit Messages path (src/queue/submit.ts) instead of
   * straight into the queue: a backend whose setting is Remotely hands what its submission
   * listener gets to a member that is Locally for Others. Null or absent: the queue.
   */
  readonly submitVia?: (s: SessionInfo) => Submitter | null;
  /**
   * The local domains, first the one whose postmaster gets what no other postmaster takes
   * (smtp.postmaster unset). Absent: only smtp.postmaster redirects postmaster mail.
   */
  readonly localDomains?: () => Promise<readonly string[]>;
  /** SPF, DKIM, ARC and DMARC at end of data (authentication.ts); absent: no checks. */
  readonly authentication?: InboundAuthentication;
}

/** RFC 5321 §4.5.1: the reserved local part, case-insensitive. */
const isPostmaster = (address: string): boolean => {
  const at = address.lastIndexOf("@");
  return at > 0 && address.slice(0, at).toLowerCase() === "postmaster";
};

/** The envelope of a message received in this session's transaction. */
const draftOf = (
  s: SessionInfo,
  tx: Transaction,
  recipients: readonly EnvelopeRecipient[],
  arrival: number,
): EnvelopeDraft => ({
  returnPath: tx.from,
  recipients,
  ret: tx.params.ret,
  envid: tx.params.envid,
  body: tx.params.body,
  smtputf8: tx.params.smtputf8,
  ...(tx.params.requireTls ? { requireTls: true } : {}),
  source: s.listener,
  authUser: s.authUser,
  client: { address: s.remote.address, port: s.remote.port, helo: s.helo, tls: s.tls },
  arrival,
});

/** The draft with a milter's changes: a new sender, recipients removed (by their RCPT address), added. */
const amended = (draft: EnvelopeDraft, c: EnvelopeChange): EnvelopeDraft => {
  const gone = new Set(c.remove.map((a) => a.toLowerCase()));
  const kept = draft.recipients.filter((r) => !gone.has((r.original ?? r.address).toLowerCase()));
  const have = new Set(kept.map((r) => r.address.toLowerCase()));
  const added: EnvelopeRecipient[] = [];
  for (const address of c.add) {
    if (have.has(address.toLowerCase())) continue;
    have.add(address.toLowerCase());
    added.push({ address, original: null, notify: null, orcpt: null });
  }
  return { ...draft, returnPath: c.from ?? draft.returnPath, recipients: [...kept, ...added] };
};

export function createInboundHandler(o: InboundOptions): SmtpHandler {
  // smtp.relayNetworks may change live (managed settings replace the array): parse anew then.
  let relayFrom = o.settings.smtp.relayNetworks;
  let relayList = parseNetworks(relayFrom);
  const relayNetworks = {
    contains(address: string): boolean {
      if (o.settings.smtp.relayNetworks !== relayFrom) {
        relayFrom = o.settings.smtp.relayNetworks;
        relayList = parseNetworks(relayFrom);
      }
      return relayList.contains(address);
    },
  };
  const maxExpansion = 1000;
  // Final recipients of the open transaction of each session, in RCPT order.
  const expansions = new Map<number, EnvelopeRecipient[]>();
  // Sessions whose open transaction has a remote recipient: no mailbox can settle it alone.
  const hasRemote = new Set<number>();
  // Recipients of the open transaction that are accounts with a quota, checked again at the end.
  const quotaHolders = new Map<number, Set<string>>();
  const reset = (id: number): void => {
    expansions.delete(id);
    hasRemote.delete(id);
    quotaHolders.delete(id);
  };

  const overFlow = async (account: Account, direction: "in" | "out"): Promise<boolean> => {
    const limit = direction === "in" ? account.inFlow : account.outFlow;
    if (limit === null) return false;
    const since = o.clock.now() - limit.periodSeconds * 1000;
    return (await o.directory.countFlow(account.address, direction, since)) >= limit.messages;
  };

  const trusted = (s: SessionInfo): boolean =>
    s.listener === "smtp" &&
    (relayNetworks.contains(s.remote.address) ||
      (s.member != null && o.relayMember !== undefined && o.relayMember(s.member)));
  const mayRelay = (s: SessionInfo): boolean => s.authUser !== null || trusted(s);
  const senders = createSenderPolicy({ settings: o.settings, directory: o.directory, trusted });

  const checkAccount = async (account: Account, size: number | null): Promise<Reply | null> => {
    if (!account.enabled) return REPLIES.mailboxDisabled;
    if (size !== null && account.maxMessageSize !== null && size > account.maxMessageSize) {
      return REPLIES.messageTooBig;
    }
    if (
      account.quotaBytes !== null &&
      o.settings.smtp.overQuota === "reject" &&
      account.usedBytes + (size ?? 0) >= account.quotaBytes
    ) {
      return REPLIES.overQuotaTemp;
    }
    if (await overFlow(account, "in")) return REPLIES.recipientOverLimit;
    return (await o.storable?.(account.address)) ?? null;
  };

  /** Where postmaster mail goes that no account or alias of its own takes; null: nowhere. */
  const postmasterTarget = async (): Promise<string | null> => {
    const configured = o.settings.smtp.postmaster.trim();
    if (configured !== "") return configured;
    const first = (await o.localDomains?.())?.[0];
    return first === undefined ? null : `postmaster@${first}`;
  };

  const rcptTo = async (
    s: SessionInfo,
    tx: Transaction,
    to: string,
    params: { notify: EnvelopeRecipient["notify"]; orcpt: string | null },
  ): Promise<Reply> => {
    let found = await o.directory.lookup(to);
    // RFC 5321 §4.5.1: postmaster must be accepted at every domain we serve and at our own name
    // (the bare <Postmaster> arrives as postmaster@hostname). An address with no account or
    // alias of its own goes to the operator's postmaster, even from a client that may not relay:
    // the operator chose that target, the client did not.
    const domain = to.slice(to.lastIndexOf("@") + 1).toLowerCase();
    let dest = to;
    if (
      isPostmaster(to) &&
      (found.kind === "unknown" || (found.kind === "remote" && domain === o.settings.hostname.toLowerCase()))
    ) {
      const target = await postmasterTarget();
      if (target === null || target.toLowerCase() === to.toLowerCase()) {
        o.log.with(s.id, s.remote.address).problem("no postmaster mailbox", { to, target: target ?? "" });
        return REPLIES.unknownUser;
      }
      dest = target;
      found = await o.directory.lookup(dest);
      if (found.kind === "remote") {
        hasRemote.add(s.id);
        return addTargets(s, to, [dest], params);
      }
    }
    return recipientOf(s, tx, to, dest, found, params);
  };

  /** Adds the final addresses of one RCPT to the session's transaction. */
  const addTargets = (
    s: SessionInfo,
    to: string,
    targets: readonly string[],
    params: { notify: EnvelopeRecipient["notify"]; orcpt: string | null },
  ): Reply => {
    const accepted = expansions.get(s.id) ?? [];
    if (accepted.length + targets.length > maxExpansion) return REPLIES.tooManyRecipients;
    for (const address of targets) {
      accepted.push({
        address,
        original: address === to ? null : to,
        notify: params.notify,
        orcpt: params.orcpt,
      });
    }
    expansions.set(s.id, accepted);
    return REPLIES.okRecipient;
  };

  /** The RCPT `to`, looked up (or redirected) as `dest`: refused, or its final addresses added. */
  const recipientOf = async (
    s: SessionInfo,
    tx: Transaction,
    to: string,
    dest: string,
    found: RecipientLookup,
    params: { notify: EnvelopeRecipient["notify"]; orcpt: string | null },
  ): Promise<Reply> => {
    const add = (targets: readonly string[]): Reply => addTargets(s, to, targets, params);
    switch (found.kind) {
      case "remote":
        if (!mayRelay(s)) return s.listener === "submission" ? REPLIES.authRequired : REPLIES.relayDenied;
        hasRemote.add(s.id);
        return add([dest]);
      case "unknown":
        return REPLIES.unknownUser;
      case "account": {
        const refusal = o.carries?.(tx.params) ?? (await checkAccount(found.account, tx.params.size));
        if (refusal !== null) return refusal;
        const r = add([found.account.address]);
        if (r.code < 300 && found.account.quotaBytes !== null) {
          const held = quotaHolders.get(s.id) ?? new Set<string>();
          quotaHolders.set(s.id, held.add(found.account.address));
        }
        return r;
      }
      case "alias": {
        const ex = await expandRecipient(o.directory, dest, { maxDepth: 10, maxTargets: 100 });
        switch (ex.kind) {
          case "ok": {
            // An alias to an account that cannot be stored anywhere yet, or cannot get this
            // message, is refused like the account.
            for (const target of ex.targets) {
              if (o.storable === undefined && o.carries === undefined) break;
              const t = await o.directory.lookup(target.address);
              if (t.kind !== "account") continue;
              const refusal = o.carries?.(tx.params) ?? (await o.storable?.(t.account.address)) ?? null;
              if (refusal !== null) return refusal;
            }
            return add(ex.targets.map((t) => t.address));
          }
          case "loop":
            return REPLIES.aliasLoop;
          case "unknown":
            return REPLIES.unknownUser;
          case "too-many":
            return REPLIES.aliasTooMany;
        }
      }
    }
  };

  const guard = async (what: string, s: SessionInfo, fn: () => Promise<Reply>): Promise<Reply> => {
    try {
      return await fn();
    } catch (e) {
      // A directory we cannot read is a temporary condition: 4xx, never accept-then-lose.
      o.log.with(s.id, s.remote.address).problem("directory lookup failed", { what, error: String(e) });
      return REPLIES.directoryUnavailable;
    }
  };

  /**
   * The sink with the From: check of the sender policy in front of its end: the header bytes are
   * kept as they pass, and a refused From: aborts the message instead of committing it.
   */
  const checkingFrom = (s: SessionInfo, tx: Transaction, inner: MessageSink): MessageSink => {
    const capture = new HeaderCapture();
    return {
      write(chunk) {
        capture.take(chunk);
        return inner.write(chunk);
      },
      async end() {
        let refusal: Reply | null;
        try {
          refusal = await senders.header(s, tx.from, capture.from());
        } catch (e) {
          // As at MAIL: a directory that cannot answer is temporary, never a guess.
          o.log
            .with(s.id, s.remote.address)
            .problem("directory lookup failed", { what: "from", error: String(e) });
          refusal = REPLIES.directoryUnavailable;
        }
        if (refusal !== null) {
          o.log.with(s.id, s.remote.address).problem("sender refused", {
            user: s.authUser ?? "",
            from: tx.from,
            code: refusal.code,
            where: "header",
          });
          await inner.abort();
          reset(s.id);
          return refusal;
        }
        return inner.end();
      },
      abort: () => inner.abort(),
      ...(inner.amend === undefined ? {} : { amend: (c: EnvelopeChange) => inner.amend?.(c) }),
    };
  };

  /**
   * Whether no recipient has room for `size` more bytes (RFC 5321 §4.2.2: 552, exceeded storage
   * allocation). Only when every recipient is an account with a quota can the node tell; an
   * answer that fails is no refusal (the mailbox channel checks again when it stores).
   */
  const noRoomForAny = async (s: SessionInfo, size: number): Promise<boolean> => {
    const recipients = expansions.get(s.id) ?? [];
    const held = quotaHolders.get(s.id);
    if (held === undefined || recipients.some((r) => !held.has(r.address))) return false;
    for (const address of new Set(recipients.map((r) => r.address))) {
      const found = await o.directory.lookup(address).catch(() => null);
      if (found?.kind !== "account" || found.account.quotaBytes === null) return false;
      if (found.account.usedBytes + size <= found.account.quotaBytes) return false;
    }
    return true;
  };

  /** The quota check at the end of a message whose size was not announced (header comment). */
  const checkingQuota = (s: SessionInfo, tx: Transaction, inner: MessageSink): MessageSink => {
    let size = 0;
    return {
      write(chunk) {
        size += chunk.length;
        return inner.write(chunk);
      },
      async end() {
        if (o.settings.smtp.overQuota === "reject" && (await noRoomForAny(s, size))) {
          o.log.with(s.id, s.remote.address).major("over quota at end of data", { from: tx.from, size });
          await inner.abort();
          reset(s.id);
          return REPLIES.overQuotaPerm;
        }
        return inner.end();
      },
      abort: () => inner.abort(),
      ...(inner.amend === undefined ? {} : { amend: (c: EnvelopeChange) => inner.amend?.(c) }),
    };
  };

  /**
   * A milter's added recipients, expanded like RCPT addresses (an alias gives its targets); one
   * that does not expand (unknown, remote, a loop, an unreadable directory) is kept as given.
   */
  const expandAdded = async (add: readonly string[]): Promise<string[]> => {
    const out: string[] = [];
    for (const address of add) {
      const ex = await expandRecipient(o.directory, address, { maxDepth: 10, maxTargets: 100 }).catch(
        () => null,
      );
      out.push(...(ex?.kind === "ok" ? ex.targets.map((t) => t.address) : [address]));
    }
    return out;
  };

  /** Bookkeeping for a message that got its 250, whichever path it took. */
  const received = async (s: SessionInfo, arrival: number): Promise<void> => {
    o.metrics.messageReceived(s.listener);
    if (s.authUser !== null) await o.directory.recordFlow(s.authUser, "out", arrival).catch(() => undefined);
  };

  const receiptSink = async (
    s: SessionInfo,
    tx: Transaction,
    direct: ReceiptSink,
    arrival: number,
  ): Promise<MessageSink | Reply> => {
    let size = 0;
    const write = (chunk: Buffer): Promise<void> => {
      size += chunk.length;
      return direct.write(chunk);
    };
    const header = receivedHeader(
      s,
      o.settings.hostname,
      direct.id,
      tx.rcpts.map((r) => r.address),
      arrival,
    );
    try {
      await write(header);
    } catch (e) {
      o.log.with(s.id, s.remote.address).failure("mailbox write failed", { error: String(e) });
      await direct.abort();
      return REPLIES.mailboxWriteFailed;
    }
    return {
      write,
      async end() {
        const r = await direct.end();
        reset(s.id);
        if (r.code < 300) {
          await received(s, arrival);
          o.log
            .with(s.id, s.remote.address)
            .major("stored on receipt", { id: direct.id, from: tx.from, size });
        }
        return r;
      },
      abort: () => direct.abort(),
    };
  };

  /** The whole message is collected, then submitted; the 250 comes when it is durable somewhere. */
  const submittedSink = (
    s: SessionInfo,
    tx: Transaction,
    recipients: EnvelopeRecipient[],
    submitter: Submitter,
  ): MessageSink => {
    const arrival = o.clock.now();
    const chunks: Buffer[] = [
      receivedHeader(
        s,
        o.settings.hostname,
        `S${s.id}`,
        tx.rcpts.map((r) => r.address),
        arrival,
      ),
    ];
    return {
      write: (chunk) => (chunks.push(chunk), Promise.resolve()),
      async end() {
        const message = Buffer.concat(chunks);
        chunks.length = 0;
        const r = await submitter.submit(draftOf(s, tx, recipients, arrival), message);
        reset(s.id);
        if (!r.ok) return r.reply;
        await received(s, arrival);
        o.log
          .with(s.id, s.remote.address)
          .major("submitted", { id: r.id, node: r.node, from: tx.from, size: message.length });
        return r.remote ? REPLIES.queuedAsOn({ id: r.id, node: r.node }) : REPLIES.queuedAs({ id: r.id });
      },
      abort: () => ((chunks.length = 0), Promise.resolve()),
    };
  };

  const handler: SmtpHandler = {
    connect: () => Promise.resolve(null),

    async authenticate(s, user, password, mech): Promise<AuthResult> {
      const r = await o.login.check({
        service: "smtp",
        mech,
        ip: s.remote.address,
        log: o.log.with(s.id, s.remote.address),
        typed: user,
        password,
        verify: (name, pw) => o.directory.verifyPassword(name, pw),
        usable: (account) => account.enabled,
      });
      return r.kind === "ok" ? "ok" : r.kind;
    },

    authRefused: (s, user, mech) =>
      o.login.refuse(
        { service: "smtp", mech, ip: s.remote.address, log: o.log.with(s.id, s.remote.address) },
        user,
        "malformed",
      ),

    mailFrom(s, from, params) {
      reset(s.id);
      return guard("mail", s, async () => {
        if (s.listener === "submission" && s.authUser === null) return REPLIES.authRequired;
        const refusal = await senders.envelope(s, from);
        if (refusal !== null) {
          o.log.with(s.id, s.remote.address).problem("sender refused", {
            user: s.authUser ?? "",
            from,
            code: refusal.code,
            where: "envelope",
          });
          return refusal;
        }
        if (s.authUser !== null) {
          const account = await o.directory.getAccount(s.authUser);
          if (account !== null) {
            if (await overFlow(account, "out")) return REPLIES.senderOverLimit;
            if (
              params.size !== null &&
              account.maxMessageSize !== null &&
              params.size > account.maxMessageSize
            ) {
              return REPLIES.messageTooBig;
            }
          }
        }
        return REPLIES.okSender;
      });
    },

    rcptTo(s, tx, to, params) {
      if (tx.rcpts.length === 0) reset(s.id);
      return guard("rcpt", s, () => rcptTo(s, tx, to, params));
    },

    async openMessage(s, tx): Promise<MessageSink | Reply> {
      const recipients = expansions.get(s.id) ?? [];
      if (recipients.length === 0) return REPLIES.noValidRecipients;
      const via = o.submitVia?.(s) ?? null;
      if (via !== null) return submittedSink(s, tx, recipients, via);
      const only = recipients.length === 1 && !hasRemote.has(s.id) ? recipients[0] : undefined;
      if (only !== undefined && o.receipt !== undefined) {
        const arrival = o.clock.now();
        const direct = await o.receipt.open(only, tx.from, arrival, { id: s.id, remote: s.remote.address });
        if (direct !== null) return receiptSink(s, tx, direct, arrival);
      }
      const incoming = await o.queue.begin();
      if (incoming === "full") return REPLIES.queueFull;
      const arrival = o.clock.now();
      let size = 0;
      const write = async (chunk: Buffer): Promise<void> => {
        size += chunk.length;
        await incoming.write(chunk);
      };
      await write(
        receivedHeader(
          s,
          o.settings.hostname,
          incoming.id,
          tx.rcpts.map((r) => r.address),
          arrival,
        ),
      );
      // A milter's envelope changes (src/inbound/milters.ts), applied at commit.
      let change: EnvelopeChange | null = null;
      return {
        write,
        amend: (c) => void (change = c),
        async end() {
          try {
            const draft = draftOf(s, tx, recipients, arrival);
            const env = await incoming.commit(
              change === null ? draft : amended(draft, { ...change, add: await expandAdded(change.add) }),
              change?.hold != null ? { held: true } : {},
            );
            reset(s.id);
            await received(s, arrival);
            o.log.with(s.id, s.remote.address).major("queued", {
              id: env.id,
              from: tx.from,
              nrcpt: recipients.length,
              size,
            });
            return REPLIES.queuedAs({ id: env.id });
          } catch (e) {
            if (e instanceof RuleRejected) {
              reset(s.id);
              o.log.with(s.id, s.remote.address).major("rejected by rule", { from: tx.from });
              return REPLIES.ruleRejected({ text: e.text.replace(/[\r\n]+/g, " ").slice(0, 400) });
            }
            o.log.with(s.id, s.remote.address).failure("enqueue failed", { error: String(e) });
            await incoming.abort().catch(() => undefined);
            return e instanceof NoShadowCopy ? REPLIES.noShadowPeer : REPLIES.queueWriteFailed;
          }
        },
        abort: () => incoming.abort(),
      };
    },

    vrfy: () => Promise.resolve(REPLIES.vrfyCannot),

    close(s) {
      reset(s.id);
    },
  };
  // The end-of-data hooks wrap whichever sink the message got (queue, receipt or submission):
  // the From: check first (cheap, may refuse), then mail authentication, which prepends its
  // header before the bytes reach the sink; the quota check, which needs the size, outermost.
  return {
    ...handler,
    async openMessage(s, tx) {
      let opened = await handler.openMessage(s, tx);
      if (!("write" in opened)) return opened;
      if (o.authentication?.applies(s, trusted(s)) === true) opened = o.authentication.sink(s, tx, opened);
      const from = senders.checksHeader(s) ? checkingFrom(s, tx, opened) : opened;
      return quotaHolders.has(s.id) ? checkingQuota(s, tx, from) : from;
    },
  };
}

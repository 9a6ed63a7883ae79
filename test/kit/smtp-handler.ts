// A scriptable SmtpHandler for engine tests: records every call, keeps accepted messages in
// memory, and lets a test override any decision. Defaults: every sender is fine, recipients whose
// local part starts with "unknown" get 550, user "alice" with password "secret" may AUTH.
// Waiting helpers resolve on events (message stored, session closed), never on time.
import type { Reply } from "../../src/proto/reply.js";
import { REPLIES } from "../../src/proto/reply.js";
import type {
  AuthResult,
  MailParams,
  MessageSink,
  RcptParams,
  SessionInfo,
  SmtpHandler,
  Transaction,
} from "../../src/smtp/handler.js";

export interface StoredMessage {
  readonly session: SessionInfo;
  readonly from: string;
  readonly params: MailParams;
  readonly rcpts: readonly { readonly address: string; readonly params: RcptParams }[];
  readonly data: Buffer;
}

export interface HandlerScript {
  connect?: (s: SessionInfo) => Promise<Reply | null>;
  authenticate?: (s: SessionInfo, user: string, password: string) => Promise<AuthResult>;
  mailFrom?: (s: SessionInfo, from: string, params: MailParams) => Promise<Reply>;
  rcptTo?: (s: SessionInfo, tx: Transaction, to: string, params: RcptParams) => Promise<Reply>;
  /** Replaces openMessage entirely. */
  openMessage?: (s: SessionInfo, tx: Transaction) => Promise<MessageSink | Reply>;
  /** Final reply of a stored message (default 250 2.0.0). */
  endReply?: () => Promise<Reply>;
  vrfy?: (s: SessionInfo, address: string) => Promise<Reply>;
}

export interface TestHandler extends SmtpHandler {
  readonly calls: string[];
  readonly messages: StoredMessage[];
  readonly aborted: number;
  readonly closedSessions: SessionInfo[];
  /** Resolves once n messages are stored. */
  waitMessages(n: number): Promise<void>;
  /** Resolves once n sessions have closed. */
  waitClosed(n: number): Promise<void>;
}

export function testHandler(script: HandlerScript = {}): TestHandler {
  const calls: string[] = [];
  const messages: StoredMessage[] = [];
  const closedSessions: SessionInfo[] = [];
  let aborted = 0;
  const waiters: (() => void)[] = [];
  const changed = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  const until = async (cond: () => boolean): Promise<void> => {
    while (!cond()) await new Promise<void>((r) => waiters.push(r));
  };

  return {
    calls,
    messages,
    closedSessions,
    get aborted() {
      return aborted;
    },
    waitMessages: (n) => until(() => messages.length >= n),
    waitClosed: (n) => until(() => closedSessions.length >= n),
    connect(s) {
      calls.push(`connect ${s.remote.address}`);
      return script.connect?.(s) ?? Promise.resolve(null);
    },
    authenticate(s, user, password) {
      calls.push(`auth ${user}`);
      if (script.authenticate) return script.authenticate(s, user, password);
      return Promise.resolve(user === "alice" && password === "secret" ? "ok" : "invalid");
    },
    mailFrom(s, from, params) {
      calls.push(`mail ${from}`);
      return script.mailFrom?.(s, from, params) ?? Promise.resolve(REPLIES.okSender);
    },
    rcptTo(s, tx, to, params) {
      calls.push(`rcpt ${to}`);
      if (script.rcptTo) return script.rcptTo(s, tx, to, params);
      return Promise.resolve(to.startsWith("unknown") ? REPLIES.unknownUser : REPLIES.okRecipient);
    },
    openMessage(s, tx) {
      calls.push("open");
      if (script.openMessage) return script.openMessage(s, tx);
      const parts: Buffer[] = [];
      const snapshot = { from: tx.from, params: tx.params, rcpts: [...tx.rcpts] };
      const sink: MessageSink = {
        write(chunk) {
          parts.push(Buffer.from(chunk));
          return Promise.resolve();
        },
        async end() {
          calls.push("end");
          const r = script.endReply ? await script.endReply() : REPLIES.ok;
          if (r.code < 300) {
            messages.push({ session: s, ...snapshot, data: Buffer.concat(parts) });
            changed();
          }
          return r;
        },
        abort() {
          calls.push("abort");
          aborted++;
          changed();
          return Promise.resolve();
        },
      };
      return Promise.resolve(sink);
    },
    vrfy(s, address) {
      calls.push(`vrfy ${address}`);
      return script.vrfy?.(s, address) ?? Promise.resolve(REPLIES.vrfyCannot);
    },
    close(s) {
      calls.push("close");
      closedSessions.push(s);
      changed();
    },
  };
}

// What a verb sees of its session, and the shape of a verb. One file per verb lives beside this
// one; other folders add verbs (e.g. remote submission) through createSmtpServer's extraVerbs
// without touching the session. A verb gets the untrusted argument text (after the verb and one
// space, trimmed) and answers through s.reply(); it must read exactly what its syntax says so the
// session stays in step with the client.
import type { Settings } from "../../config/settings.js";
import type { Log } from "../../log/logger.js";
import type { CommandLine } from "../../proto/commandline.js";
import type { ContentRules, DataDecoder } from "../../proto/dataframe.js";
import type { Reply } from "../../proto/reply.js";
import type { HeaderMeter } from "../../proto/header-limit.js";
import type {
  ListenerKind,
  MailParams,
  MessageSink,
  RcptParams,
  SessionInfo,
  SmtpHandler,
  Transaction,
} from "../handler.js";

export interface OpenTransaction extends Transaction {
  readonly rcpts: { readonly address: string; readonly params: RcptParams }[];
  readonly params: MailParams;
  /** RCPT commands tried in this transaction (accepted or not): DATA's 503 vs 554 (RFC 2920 §3.1). */
  rcptAttempts: number;
  /**
   * Set by the first BDAT: the open sink, the bytes sent so far and the text rules the chunks
   * are checked against (null for BODY=BINARYMIME, which has no lines), header limits included;
   * for BINARYMIME the header section's own measure (else null).
   */
  bdat: {
    readonly sink: MessageSink;
    bytes: number;
    readonly text: DataDecoder | null;
    readonly header: HeaderMeter | null;
  } | null;
}

export interface SessionApi {
  readonly id: number;
  readonly listener: ListenerKind;
  readonly settings: Settings;
  readonly handler: SmtpHandler;
  readonly log: Log;
  /** The verbs of this server, in registry order (EHLO asks each what to advertise). */
  readonly verbs: ReadonlyMap<string, Verb>;
  readonly tlsAvailable: boolean;
  readonly tlsActive: boolean;
  /** A per-session challenge the greeting carried (an LMTP AUTH mechanism's nonce), or null. */
  readonly challenge: string | null;
  helo: string | null;
  esmtp: boolean;
  authUser: string | null;
  tx: OpenTransaction | null;

  info(): SessionInfo;
  /** Queue a reply; replies are written in one batch when the client's input is drained. */
  reply(r: Reply): void;
  /** Reply, then close the connection once the reply is written. */
  quit(r: Reply): void;
  /** End the transaction, aborting an open BDAT sink. */
  resetTx(): Promise<void>;
  /** Run a handler call; an exception is logged and becomes null (callers send a 4xx). */
  safely<T>(what: string, call: () => Promise<T>): Promise<T | null>;
  /** The next command-line-sized line from the client (AUTH continuations); null when gone. */
  readLine(): Promise<CommandLine | null>;
  /**
   * Read dot-stuffed DATA up to CRLF.CRLF into sink, holding it to `content`; the final reply,
   * or null when the client is gone.
   */
  receiveData(sink: MessageSink, content: ContentRules): Promise<Reply | null>;
  /** Read exactly n raw bytes (BDAT), handing each piece to take; false when the client is gone. */
  receiveBytes(n: number, take: (piece: Buffer) => Promise<void>): Promise<boolean>;
  /** Send 220 and run the TLS handshake (RFC 3207); false when it failed (the session is closing). */
  startTls(): Promise<boolean>;
}

export interface Verb {
  /** Upper-case command name. */
  readonly name: string;
  /** EHLO keywords this verb adds for this session (none when it returns []). */
  readonly advertise?: (s: SessionApi) => readonly string[];
  run(s: SessionApi, arg: string): Promise<void>;
}

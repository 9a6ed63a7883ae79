// What a POP3 listener and its sessions are given (source.ts builds it from the SourceContext).
import type { SecureContext } from "node:tls";
import type { Settings } from "../../config/settings.js";
import type { Directory } from "../../directory/directory.js";
import type { Log } from "../../log/logger.js";
import type { Submitter } from "../../queue/submit.js";
import type { LoginGate } from "../../state/login-gate.js";
import type { MaildirReader } from "../../store/maildir-reader.js";
import type { Clock } from "../../world/clock.js";
import type { MailboxLocks } from "./lock.js";

export interface Pop3Options {
  readonly settings: Settings;
  readonly directory: Pick<Directory, "verifyPassword" | "getAccount" | "countFlow" | "recordFlow">;
  /** Where an account's Maildir is (MaildirStore.folder). */
  readonly folder: (domain: string, localPart: string) => string;
  readonly reader: MaildirReader;
  readonly submitter: Submitter;
  readonly locks: MailboxLocks;
  /** Logins go through it: one canonical name, throttled in the shared state, failures logged. */
  readonly login: LoginGate;
  /** null: no STLS. */
  readonly tls: SecureContext | null;
  /** In a cluster: whether this node stores the account's mailbox (absent: every account). */
  readonly stores?: (address: string) => Promise<boolean>;
  readonly clock: Clock;
  /** Tag POP; each session logs under its own id and client address. */
  readonly log: Log;
}

/** Longest command line, CRLF included: RFC 2449 §4 allows 255, SASL responses need more. */
export const MAX_COMMAND_LINE = 4096;

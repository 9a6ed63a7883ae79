// Where RPOP entries (the remote POP3 mailboxes an account polls), their UIDL memory and the
// poll claims live. One interface, two adapters: the SQLite file (sqlite-store.ts) and
// PostgreSQL (pg-store.ts), so every member of a cluster sees the same entries. The poller must
// send the password to the remote server, so it cannot be hashed: the adapters store it sealed
// (seal.ts, AES-256-GCM under rpop.keyFile) and hand it out clear only to the poller; it is
// never returned by listings (entryView) nor logged.
//
// What a poll last did (its time, failures, last error, back-off) is not stored: it is the
// polling node's schedule (scheduler.ts), rebuilt at start. Only what must outlive a poll and be
// the same on every node is here.
import { CallerError } from "../../proto/caller-error.js";

export const RPOP_TLS = ["none", "stls", "tls"] as const;
export type RpopTls = (typeof RPOP_TLS)[number];

export interface RpopEntrySpec {
  readonly host: string;
  readonly port: number;
  /** none: plain; stls: STLS after the greeting (RFC 2595); tls: TLS from the start (POP3S). */
  readonly tls: RpopTls;
  /** Check the server's certificate and name (false: accept any, e.g. self-signed). */
  readonly tlsVerify: boolean;
  readonly user: string;
  readonly password: string;
  /** Log in with APOP (RFC 1939 §7) instead of USER/PASS. */
  readonly apop: boolean;
  /** Leave fetched messages on the server (true) or delete them once submitted (false). */
  readonly keep: boolean;
  readonly intervalSeconds: number;
}

export interface RpopEntry extends RpopEntrySpec {
  readonly id: string;
  /** The local account the fetched mail is for, lower-case. */
  readonly account: string;
  readonly createdAt: number;
}

/** An entry as shown to operators: everything but the password. */
export type RpopEntryView = Omit<RpopEntry, "password">;

export const entryView = (e: RpopEntry): RpopEntryView => {
  const { password: _password, ...view } = e;
  return view;
};

export interface RpopStore {
  add(account: string, spec: RpopEntrySpec): Promise<RpopEntry>;
  /** False when the account has no entry with this id. */
  remove(account: string, id: string): Promise<boolean>;
  /** Every entry, or an account's; ordered by id. */
  list(account?: string): Promise<RpopEntry[]>;
  /** The unique ids already fetched for an entry. */
  seen(id: string): Promise<Set<string>>;
  /** Remember one fetched message (after its submit resolved ok). */
  remember(id: string, uid: string, at: number): Promise<void>;
  /** Forget remembered ids that are no longer on the server (keeps the memory bounded). */
  prune(id: string, present: ReadonlySet<string>): Promise<number>;
  /**
   * Take (or renew) the right to poll an entry until `until`, for `holder` (one process). True
   * when taken: no other holder's claim is live at `at`. Atomic across every process and node
   * sharing the store: of two racing claims one wins, so two pollers never read the same UIDL
   * memory and fetch one message twice. False for an entry that does not exist.
   */
  claim(id: string, holder: string, at: number, until: number): Promise<boolean>;
  /** End holder's claim (after its poll); another holder's claim is left alone. */
  release(id: string, holder: string): Promise<void>;
  close(): Promise<void>;
}

/** An entry id as the adapters store it (a positive integer); null for text that is none. */
export const entryNumber = (id: string): number | null => (/^[0-9]{1,15}$/.test(id) ? Number(id) : null);

/** Thrown for invalid entries (the CLI and the admin API show the message as it is). */
export class RpopError extends CallerError<"invalid" | "not-found"> {}

const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$|^\[?[0-9a-fA-F:.]+\]?$/;

/** Checks an entry's fields (operator input), throwing RpopError("invalid") naming the field. */
export function checkSpec(s: RpopEntrySpec): void {
  const bad = (m: string): never => {
    throw new RpopError("invalid", m);
  };
  if (typeof s.host !== "string" || s.host.length > 253 || !HOST.test(s.host))
    bad("host: not a host name or address");
  if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) bad("port: 1 to 65535");
  if (!RPOP_TLS.includes(s.tls)) bad("tls: none, stls or tls");
  // POP3 sends them on a command line: no line breaks, bounded.
  if (typeof s.user !== "string" || s.user === "" || s.user.length > 255 || /[\s]/.test(s.user))
    bad("user: 1 to 255 characters without spaces");
  if (
    typeof s.password !== "string" ||
    s.password === "" ||
    s.password.length > 255 ||
    /[\r\n\0]/.test(s.password)
  )
    bad("password: 1 to 255 characters without line breaks");
  if (!Number.isInteger(s.intervalSeconds) || s.intervalSeconds < 1 || s.intervalSeconds > 30 * 86400)
    bad("intervalSeconds: 1 to 2592000");
}

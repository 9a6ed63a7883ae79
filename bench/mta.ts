// What the harness needs from an MTA under test, whichever it is: where to send, which process
// tree to measure, where local mail lands, and how to stop it. Each run gets a fresh directory.

export type MtaName = "mailyard" | "postfix";

export interface MtaOptions {
  /** Fresh, empty directory owned by this run; removed by stop(). */
  readonly dir: string;
  /** Relay everything non-local to 127.0.0.1:sinkPort. */
  readonly sinkPort: number;
  /** Mailboxes u0..u(N-1)@example.test to deliver into. */
  readonly mailboxes: number;
  /** Lines added to Postfix's main.cf (tests that need a peer configured some other way). */
  readonly postfixMainCf?: string;
  /** Lines added to Postfix's master.cf. */
  readonly postfixMasterCf?: string;
}

export interface Mta {
  readonly name: MtaName;
  /**
   * Root of the MTA's processes: CPU and memory are read for it and its direct children. Several
   * roots for a path of several programs (a cluster's members; Postfix with Dovecot's LMTP).
   */
  readonly pid: number | readonly number[];
  readonly smtpPort: number;
  /** Maildirs live at <maildirRoot>/<domain>/<user>/new. */
  readonly maildirRoot: string;
  /** Stops every process of the MTA and removes its directory. */
  stop(): Promise<void>;
}

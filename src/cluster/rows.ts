// The cluster state's rows as both adapters read them (the same columns, cluster/migrations.ts)
// and what they mean: SQLite gives a boolean column as 0/1, PostgreSQL as a boolean.
import type { Lease, MemberRecord } from "./state.js";

export interface MemberRow {
  id: string;
  role: MemberRecord["role"];
  smtp: string;
  /** Added by migration 4; '' for none. */
  submissions: string;
  http: string;
  channel: string | null;
  submit_messages: string;
  started_at: number;
  last_heartbeat: number;
  queue_size: number;
  left: boolean | number;
}

export interface LeaseRow {
  account: string;
  owner: string | null;
  token: number;
  expires_at: number;
}

export const toMember = (r: MemberRow): MemberRecord => ({
  id: r.id,
  role: r.role,
  smtp: r.smtp,
  submissions: r.submissions,
  http: r.http,
  channel: r.channel,
  submitMessages: r.submit_messages,
  startedAt: r.started_at,
  lastHeartbeat: r.last_heartbeat,
  queueSize: r.queue_size,
  left: r.left === true || r.left === 1,
});

/** A held lease's row (a released one, owner NULL, is never read as a lease). */
export const toLease = (r: LeaseRow): Lease => ({
  account: r.account,
  owner: r.owner ?? "",
  token: r.token,
  expiresAt: r.expires_at,
});

// An RPOP entry's row as both adapters read it (the same columns, migrations.ts) and the entry
// it means: SQLite gives a boolean column as 0/1, PostgreSQL as a boolean; the password is stored
// sealed (seal.ts).
import type { PasswordSeal } from "./seal.js";
import type { RpopEntry, RpopTls } from "./store.js";

export interface Row {
  id: number;
  account: string;
  host: string;
  port: number;
  tls: string;
  tls_verify: boolean | number;
  user: string;
  password: string;
  apop: boolean | number;
  keep: boolean | number;
  interval_seconds: number;
  created_at: number;
}

const flag = (v: boolean | number): boolean => v === true || v === 1;

export const toEntry = (r: Row, seal: PasswordSeal): RpopEntry => ({
  id: String(r.id),
  account: r.account,
  host: r.host,
  port: r.port,
  tls: r.tls as RpopTls,
  tlsVerify: flag(r.tls_verify),
  user: r.user,
  password: seal.open(r.password),
  apop: flag(r.apop),
  keep: flag(r.keep),
  intervalSeconds: r.interval_seconds,
  createdAt: r.created_at,
});

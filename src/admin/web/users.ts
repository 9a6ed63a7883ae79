// WebAdmin administrators: names and scrypt password hashes (directory/password.ts), kept in
// the shared state (SQLite file or PostgreSQL) beside the directory but in tables of their own
// with their own migration set (admin-store.ts), so the directory's adapters need not know
// about them. Names are operator input: validated and lower-cased;
// passwords are never stored, logged or returned.

import { hashPassword, verifyPassword } from "../../directory/password.js";
import { CallerError } from "../../proto/caller-error.js";

export interface AdminUser {
  readonly name: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A caller mistake (duplicate, missing, invalid), reported as it is by the CLI. */
export class AdminUserError extends CallerError<"exists" | "not-found" | "invalid"> {}

export interface AdminUserStore {
  add(name: string, password: string): Promise<AdminUser>;
  setPassword(name: string, password: string): Promise<void>;
  remove(name: string): Promise<void>;
  list(): Promise<AdminUser[]>;
  /** The user when the password matches (constant time, also for unknown names), else null. */
  verify(name: string, password: string): Promise<AdminUser | null>;
}

const NAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;
export const MIN_ADMIN_PASSWORD = 8;
export const MAX_ADMIN_PASSWORD = 1024;

/** The stored form of a name, or an AdminUserError saying what is wrong with it. */
export function normalizeAdminName(name: string): string {
  const n = name.trim().toLowerCase();
  if (!NAME.test(n))
    throw new AdminUserError(
      "invalid",
      `admin user name ${JSON.stringify(name)}: 1-64 of a-z 0-9 . _ @ -, starting with a letter or digit`,
    );
  return n;
}

export function checkAdminPassword(password: string): void {
  if (password.length < MIN_ADMIN_PASSWORD || password.length > MAX_ADMIN_PASSWORD)
    throw new AdminUserError(
      "invalid",
      `admin password: ${MIN_ADMIN_PASSWORD} to ${MAX_ADMIN_PASSWORD} characters`,
    );
}

/** An administrator as an adapter stores it. */
export interface AdminUserRow {
  readonly name: string;
  readonly passwordHash: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/**
 * What an adapter does with the rows; names are already normalized. setHash and remove also
 * end the user's sessions, in the same transaction, and return how many users they changed.
 */
export interface AdminUserRows {
  /** False when the name is taken. */
  insert(row: AdminUserRow): Promise<boolean>;
  setHash(name: string, hash: string, at: number): Promise<number>;
  remove(name: string): Promise<number>;
  get(name: string): Promise<AdminUserRow | null>;
  all(): Promise<AdminUserRow[]>;
}

const toUser = (r: AdminUserRow): AdminUser => ({
  name: r.name,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

/** The store's rules (names, password lengths, scrypt, constant-time refusals) over any rows. */
export function adminUsersOver(rows: AdminUserRows, now: () => number): AdminUserStore {
  const notFound = (n: string): AdminUserError => new AdminUserError("not-found", `no admin user ${n}`);
  return {
    async add(name, password) {
      const n = normalizeAdminName(name);
      checkAdminPassword(password);
      const at = now();
      const row = { name: n, passwordHash: await hashPassword(password), createdAt: at, updatedAt: at };
      if (!(await rows.insert(row))) throw new AdminUserError("exists", `admin user ${n} already exists`);
      return toUser(row);
    },
    async setPassword(name, password) {
      const n = normalizeAdminName(name);
      checkAdminPassword(password);
      if ((await rows.setHash(n, await hashPassword(password), now())) === 0) throw notFound(n);
    },
    async remove(name) {
      const n = normalizeAdminName(name);
      if ((await rows.remove(n)) === 0) throw notFound(n);
    },
    list: async () => (await rows.all()).map(toUser),
    async verify(name, password) {
      let row: AdminUserRow | null = null;
      try {
        row = await rows.get(normalizeAdminName(name));
      } catch (e) {
        if (!(e instanceof AdminUserError)) throw e;
      }
      // Unknown or malformed names cost the same scrypt work as a wrong password.
      const good = await verifyPassword(password.slice(0, MAX_ADMIN_PASSWORD), row?.passwordHash ?? null);
      return good && row !== null ? toUser(row) : null;
    },
  };
}

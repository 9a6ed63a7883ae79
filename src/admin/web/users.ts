// WebAdmin administrators: names and scrypt password hashes (directory/password.ts), kept in
// the shared state (SQLite file or PostgreSQL) beside the directory but in tables of their own
// with their own migration set (admin-store.ts), so the directory's adapters need not know
// about them. Names are operator input: validated and lower-cased;
// passwords are never stored, logged or returned.

export interface AdminUser {
  readonly name: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A caller mistake (duplicate, missing, invalid), reported as it is by the CLI. */
export class AdminUserError extends Error {
  constructor(
    readonly code: "exists" | "not-found" | "invalid",
    message: string,
  ) {
    super(message);
    this.name = "AdminUserError";
  }
}

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

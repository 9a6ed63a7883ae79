// The admin API's bearer token: random, kept in <dataDir>/admin.token with mode 0600 so only
// the node's user (and the CLI run as that user) can read it. Compared in constant time
// (src/http/bearer.ts).
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const adminTokenPath = (dataDir: string): string => join(dataDir, "admin.token");

/** The token in <dataDir>/admin.token, made (32 random bytes, hex) when missing or empty. */
export async function loadOrCreateAdminToken(dataDir: string): Promise<string> {
  const path = adminTokenPath(dataDir);
  let flag = "wx";
  try {
    const existing = (await readFile(path, "utf8")).trim();
    if (existing !== "") return existing;
    flag = "w";
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString("hex");
  // "wx" fails if another process made the file meanwhile; then its token is the one.
  try {
    await writeFile(path, token + "\n", { mode: 0o600, flag });
    await chmod(path, 0o600);
    return token;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    return (await readFile(path, "utf8")).trim();
  }
}

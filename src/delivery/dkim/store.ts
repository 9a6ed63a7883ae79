// Where the DKIM keys live: the shared state (SQLite file beside the directory, or PostgreSQL),
// so every frontend signs with the same keys. A domain may have several keys (a new selector
// during a rotation); the newest signs.
import type { DkimKey } from "./keys.js";

export interface DkimKeyStore {
  /** Every key, by domain then selector. */
  list(): Promise<DkimKey[]>;
  /** The keys of one domain, newest first. */
  keysOf(domain: string): Promise<DkimKey[]>;
  /** Adds the key; false when the domain already has a key with that selector. */
  add(key: DkimKey): Promise<boolean>;
  /** Removes one selector's key, or every key of the domain; how many went. */
  remove(domain: string, selector?: string): Promise<number>;
  close(): Promise<void>;
}

export interface DkimKeyRow {
  readonly domain: string;
  readonly selector: string;
  readonly algorithm: string;
  readonly private_key: string;
  readonly public_key: string;
  readonly created_at: number | string;
}

export const keyOfRow = (r: DkimKeyRow): DkimKey => ({
  domain: r.domain,
  selector: r.selector,
  algorithm: r.algorithm === "ed25519" ? "ed25519" : "rsa",
  privateKey: r.private_key,
  publicKey: r.public_key,
  createdAt: Number(r.created_at),
});

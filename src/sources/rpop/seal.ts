// RPOP passwords sealed at rest. The poller must send an entry's password to the remote server,
// so it cannot be hashed; it is stored encrypted with AES-256-GCM under a key file instead
// (rpop.keyFile, default dataDir/secrets/rpop.key, 64 hex digits, made 0600 on first use). A
// copy of the state database (a backup, a dump, a file another local user could read) then
// holds no usable password without the key file, which lives apart from it.
//
// Stored form: "sealed:v1:<key id>:<base64url(iv | ciphertext | tag)>", a fresh 96-bit iv per
// seal. The key id (a digest of the key) names which key sealed a value, so a member with a
// different key file says so instead of sending garbage to the remote server. The purpose is
// bound as additional data, so a value sealed for another use cannot pass as a password. A stored
// value without the prefix is a password from before sealing: it is returned as it is, and the
// stores seal such rows when they open (sealClearRows).
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { link, mkdir, readFile, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { fsyncDir } from "../../store/fs-calls.js";

const PREFIX = "sealed:v1:";
const AAD = Buffer.from("mailyard rpop password v1");
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SEALED = /^sealed:v1:([0-9a-f]{16}):([A-Za-z0-9_-]+)$/;
const KEY_TEXT = /^[0-9a-f]{64}$/;

/** A stored value that cannot be opened with this node's key (another key, or damaged). */
export class RpopSealError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RpopSealError";
  }
}

export interface PasswordSeal {
  /** Names the key (16 hex digits); the same on every member with the same key file. */
  readonly keyId: string;
  seal(clear: string): string;
  /** The clear password; throws RpopSealError when the value was sealed under another key. */
  open(stored: string): string;
  isSealed(stored: string): boolean;
  /**
   * Throws RpopSealError when any of the stored values was sealed under another key: a store
   * opened with the wrong key file must not add entries the other members cannot read.
   */
  checkKeys(stored: readonly string[]): void;
}

export function createPasswordSeal(key: Buffer): PasswordSeal {
  if (key.length !== KEY_BYTES) throw new Error(`rpop key: ${KEY_BYTES} bytes expected`);
  const keyId = createHmac("sha256", key).update("mailyard rpop key id").digest("hex").slice(0, 16);
  const otherKey = (other: string): RpopSealError =>
    new RpopSealError(
      `RPOP password sealed with another key (key id ${other}, rpop.keyFile here has ${keyId}): ` +
        "every member sharing the state needs the same rpop.keyFile",
    );
  return {
    keyId,
    isSealed: (stored) => stored.startsWith(PREFIX),
    checkKeys(stored) {
      for (const s of stored) {
        const id = SEALED.exec(s)?.[1];
        if (id !== undefined && id !== keyId) throw otherKey(id);
      }
    },
    seal(clear) {
      const iv = randomBytes(IV_BYTES);
      const c = createCipheriv("aes-256-gcm", key, iv);
      c.setAAD(AAD);
      const body = Buffer.concat([iv, c.update(clear, "utf8"), c.final(), c.getAuthTag()]);
      return `${PREFIX}${keyId}:${body.toString("base64url")}`;
    },
    open(stored) {
      if (!stored.startsWith(PREFIX)) return stored;
      const m = SEALED.exec(stored);
      if (m === null) throw new RpopSealError("RPOP password: damaged sealed value");
      if (m[1] !== keyId) throw otherKey(m[1]!);
      const body = Buffer.from(m[2]!, "base64url");
      if (body.length < IV_BYTES + TAG_BYTES) throw new RpopSealError("RPOP password: damaged sealed value");
      const d = createDecipheriv("aes-256-gcm", key, body.subarray(0, IV_BYTES));
      d.setAAD(AAD);
      d.setAuthTag(body.subarray(body.length - TAG_BYTES));
      try {
        return Buffer.concat([
          d.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)),
          d.final(),
        ]).toString("utf8");
      } catch {
        throw new RpopSealError("RPOP password: sealed value fails its authentication tag");
      }
    },
  };
}

async function readKey(path: string): Promise<Buffer | null> {
  let text: string;
  try {
    text = (await readFile(path, "utf8")).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new Error(`rpop.keyFile ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e });
  }
  if (!KEY_TEXT.test(text)) throw new Error(`rpop.keyFile ${path}: not a key (64 hex digits expected)`);
  return Buffer.from(text, "hex");
}

/**
 * The key in `path`, made on first use: written whole to a temporary file (0600, fsync'd) and
 * linked into place, so of two processes starting at once one key wins and both use it, and no
 * one ever reads a half-written key.
 */
export async function loadOrCreateRpopKey(path: string): Promise<Buffer> {
  const existing = await readKey(path);
  if (existing !== null) return existing;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const fd = openSync(tmp, "wx", 0o600);
  try {
    writeSync(fd, `${randomBytes(KEY_BYTES).toString("hex")}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    await link(tmp, path);
    await fsyncDir(dirname(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  const key = await readKey(path);
  if (key === null) throw new Error(`rpop.keyFile ${path}: vanished after it was made`);
  return key;
}

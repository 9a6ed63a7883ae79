// Password hashing for account credentials: scrypt (RFC 7914) with a random 16-byte salt,
// stored as "scrypt$N$r$p$<salt base64>$<hash base64>". Verification compares in constant time
// and, for unknown users, hashes against a dummy so a caller cannot tell "no such user" from
// "wrong password" by timing. Passwords are untrusted input; never log them.
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from "node:crypto";

const N = 16384;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
// Bounds on parameters read back from a stored hash, so a tampered row cannot make one login
// allocate gigabytes or spin for minutes.
const MAX_N = 1 << 20;
const MAX_RP = 64;

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(
      password,
      salt,
      keylen,
      { ...opts, maxmem: 256 * (opts.N ?? N) * (opts.r ?? R) + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await scrypt(password, salt, KEY_LENGTH, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString("base64")}$${key.toString("base64")}`;
}

interface Parsed {
  readonly n: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly key: Buffer;
}

function parseHash(stored: string): Parsed | null {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return null;
  const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  const salt = Buffer.from(parts[4] ?? "", "base64");
  const key = Buffer.from(parts[5] ?? "", "base64");
  const pow2 = Number.isInteger(n) && n > 1 && n <= MAX_N && (n & (n - 1)) === 0;
  const small = (x: number) => Number.isInteger(x) && x >= 1 && x <= MAX_RP;
  if (!pow2 || !small(r) || !small(p) || salt.length === 0 || key.length < 16) return null;
  return { n, r, p, salt, key };
}

// Made once, lazily: the dummy that unknown users are checked against costs one real hash.
let dummy: Promise<string> | null = null;
const dummyHash = (): Promise<string> => (dummy ??= hashPassword("mailyard-dummy-password"));

/**
 * True when password matches the stored hash. With stored === null (unknown user) the same
 * work is done against a dummy hash and the answer is false.
 */
export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const parsed = parseHash(stored ?? (await dummyHash()));
  if (parsed === null) {
    // A malformed stored hash never matches; still spend the time of a real check.
    await verifyPassword(password, null);
    return false;
  }
  const key = await scrypt(password, parsed.salt, parsed.key.length, {
    N: parsed.n,
    r: parsed.r,
    p: parsed.p,
  });
  return timingSafeEqual(key, parsed.key) && stored !== null;
}

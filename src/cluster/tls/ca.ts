// The cluster CA (issue 18): one certificate authority per cluster, whose key stays where
// `mailyard cluster ca init` ran (DIR/cluster-ca.key, 0600, never copied to a member), and the
// member certificates it issues. A member's files go to its data directory's tls/ folder:
// cluster-ca.pem (the CA certificates it trusts, a bundle during a rotation), member.pem and
// member.key (0600). A member certificate names its node id as the subject CN, which is what a
// peer checks (names.ts); it is valid for both TLS server and client use, since every link is
// mutual. Keys are EC P-256: cheap to make, and fast handshakes.
//
// Rotation: `ca init --rotate` makes a new CA and puts the new certificate first in
// DIR/cluster-ca.pem with the old one after it; members given that bundle accept both while new
// member certificates are rolled out; `ca retire` drops all but the newest. Files are written
// whole (temp file + rename), the key before anything that names it.
import { X509Certificate } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generate } from "selfsigned";
import { memberDnsName } from "./names.js";

export const CA_CERT = "cluster-ca.pem";
export const CA_KEY = "cluster-ca.key";
export const MEMBER_CERT = "member.pem";
export const MEMBER_KEY = "member.key";

const DAY_MS = 86_400_000;
export const CA_DAYS = 3650;
export const MEMBER_DAYS = 825;

export class CaError extends Error {}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, in order. */
export const splitPem = (text: string): string[] => [...text.matchAll(PEM_CERT)].map((m) => `${m[0]}\n`);

async function writeWhole(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, path);
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

export interface CaInfo {
  readonly dir: string;
  /** The newest CA certificate's SHA-256 fingerprint. */
  readonly fingerprint: string;
  /** Certificates in DIR/cluster-ca.pem (2 during a rotation). */
  readonly bundled: number;
}

/** Makes a CA in `dir`; with rotate, a new one trusted beside the current one. */
export async function initCa(dir: string, o: { rotate?: boolean; now?: Date } = {}): Promise<CaInfo> {
  const existing = await readOptional(join(dir, CA_CERT));
  if (existing !== null && o.rotate !== true)
    throw new CaError(`${join(dir, CA_CERT)} exists: this CA is made already (rotate it with --rotate)`);
  if (existing === null && o.rotate === true) throw new CaError(`no CA to rotate in ${dir}`);
  const now = o.now ?? new Date();
  const pems = await generate([{ name: "commonName", value: `Mailyard cluster CA ${now.toISOString()}` }], {
    keyType: "ec",
    algorithm: "sha256",
    notBeforeDate: now,
    notAfterDate: new Date(now.getTime() + CA_DAYS * DAY_MS),
    extensions: [
      { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // The old CA is trusted until `ca retire`; only its newest certificate is kept (a third
  // rotation before a retire would otherwise grow the bundle without end).
  const old = existing === null ? [] : splitPem(existing).slice(0, 1);
  await writeWhole(join(dir, CA_KEY), pems.private, 0o600);
  await writeWhole(join(dir, CA_CERT), [...splitPem(pems.cert), ...old].join(""), 0o644);
  return { dir, fingerprint: new X509Certificate(pems.cert).fingerprint256, bundled: 1 + old.length };
}

/** Drops every CA certificate but the newest from DIR/cluster-ca.pem (the end of a rotation). */
export async function retireOldCa(dir: string): Promise<CaInfo> {
  const bundle = await readOptional(join(dir, CA_CERT));
  if (bundle === null) throw new CaError(`no CA in ${dir} (make one with: mailyard cluster ca init)`);
  const [newest] = splitPem(bundle);
  if (newest === undefined) throw new CaError(`${join(dir, CA_CERT)} holds no certificate`);
  await writeWhole(join(dir, CA_CERT), newest, 0o644);
  return { dir, fingerprint: new X509Certificate(newest).fingerprint256, bundled: 1 };
}

export interface Issued {
  readonly node: string;
  readonly dir: string;
  readonly notAfter: string;
}

/**
 * A member certificate for `node`, signed by the newest CA in `caDir`, written to `outDir`
 * (member.pem, member.key 0600, and cluster-ca.pem: the CA bundle, never the CA key).
 */
export async function issueMember(
  caDir: string,
  node: string,
  outDir: string,
  o: { days?: number; now?: Date } = {},
): Promise<Issued> {
  const bundle = await readOptional(join(caDir, CA_CERT));
  const key = await readOptional(join(caDir, CA_KEY));
  if (bundle === null || key === null)
    throw new CaError(`no CA key in ${caDir} (make one with: mailyard cluster ca init, or pass --ca DIR)`);
  const [caCert] = splitPem(bundle);
  if (caCert === undefined) throw new CaError(`${join(caDir, CA_CERT)} holds no certificate`);
  const now = o.now ?? new Date();
  const notAfter = new Date(now.getTime() + (o.days ?? MEMBER_DAYS) * DAY_MS);
  const dns = memberDnsName(node);
  const pems = await generate([{ name: "commonName", value: node }], {
    keyType: "ec",
    algorithm: "sha256",
    notBeforeDate: now,
    notAfterDate: notAfter,
    ca: { key, cert: caCert },
    extensions: [
      { name: "basicConstraints", cA: false, critical: true },
      { name: "keyUsage", digitalSignature: true, critical: true },
      { name: "extKeyUsage", serverAuth: true, clientAuth: true },
      ...(dns !== null
        ? [{ name: "subjectAltName" as const, altNames: [{ type: 2 as const, value: dns }] }]
        : []),
    ],
  });
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  await writeWhole(join(outDir, MEMBER_KEY), pems.private, 0o600);
  await writeWhole(join(outDir, MEMBER_CERT), pems.cert, 0o644);
  await writeWhole(join(outDir, CA_CERT), bundle, 0o644);
  return { node, dir: outDir, notAfter: notAfter.toISOString() };
}

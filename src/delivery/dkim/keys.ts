// DKIM keys as values: making one (RSA 2048, RFC 6376 §3.3.3; Ed25519, RFC 8463 §3) and the
// TXT record an operator publishes at SELECTOR._domainkey.DOMAIN (RFC 6376 §3.6.1; for Ed25519
// p= is the raw 32-byte public key, RFC 8463 §4.2). No I/O.
import { generateKeyPair, generateKeyPairSync, type KeyObject } from "node:crypto";

export type DkimAlgorithm = "rsa" | "ed25519";
export const DKIM_ALGORITHMS: readonly DkimAlgorithm[] = ["rsa", "ed25519"];

export interface DkimKey {
  /** Signing domain (d=), lower-case A-labels. */
  readonly domain: string;
  /** Selector (s=). */
  readonly selector: string;
  readonly algorithm: DkimAlgorithm;
  /** PKCS#8 PEM. A secret: never logged, never printed. */
  readonly privateKey: string;
  /** The p= value of the DNS record (base64). */
  readonly publicKey: string;
  readonly createdAt: number;
}

// RFC 6376 §3.1: a selector is dot-separated sub-domain labels.
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;
export const isSelector = (s: string): boolean => s.length <= 253 && s.split(".").every((l) => LABEL.test(l));
export const isDomain = (d: string): boolean => d.includes(".") && isSelector(d);

export function generateDkimKey(
  domain: string,
  selector: string,
  algorithm: DkimAlgorithm,
  now: number,
): DkimKey {
  checkNames(domain, selector);
  const pair =
    algorithm === "rsa"
      ? generateKeyPairSync("rsa", { modulusLength: 2048 })
      : generateKeyPairSync("ed25519");
  return keyOf(domain, selector, algorithm, pair, now);
}

/** The same, without blocking the event loop (an RSA key takes up to a second): for a running node. */
export async function generateDkimKeyAsync(
  domain: string,
  selector: string,
  algorithm: DkimAlgorithm,
  now: number,
): Promise<DkimKey> {
  checkNames(domain, selector);
  const pair = await new Promise<KeyPair>((resolve, reject) => {
    const done = (e: Error | null, publicKey: KeyObject, privateKey: KeyObject): void =>
      e !== null ? reject(e) : resolve({ publicKey, privateKey });
    if (algorithm === "rsa") generateKeyPair("rsa", { modulusLength: 2048 }, done);
    else generateKeyPair("ed25519", undefined, done);
  });
  return keyOf(domain, selector, algorithm, pair, now);
}

type KeyPair = { readonly publicKey: KeyObject; readonly privateKey: KeyObject };

function checkNames(domain: string, selector: string): void {
  if (!isDomain(domain)) throw new Error(`not a domain name: ${domain}`);
  if (!isSelector(selector)) throw new Error(`not a selector: ${selector}`);
}

function keyOf(
  domain: string,
  selector: string,
  algorithm: DkimAlgorithm,
  pair: KeyPair,
  now: number,
): DkimKey {
  const spki = pair.publicKey.export({ type: "spki", format: "der" });
  return {
    domain: domain.toLowerCase(),
    selector: selector.toLowerCase(),
    algorithm,
    privateKey: pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    // RSA: the whole SubjectPublicKeyInfo; Ed25519: its last 32 bytes, the key itself.
    publicKey: (algorithm === "rsa" ? spki : spki.subarray(spki.length - 32)).toString("base64"),
    createdAt: now,
  };
}

/** The TXT record's text, as published (RFC 6376 §3.6.1; k=ed25519: RFC 8463 §4.2). */
export const dnsRecord = (k: Pick<DkimKey, "algorithm" | "publicKey">): string =>
  `v=DKIM1; k=${k.algorithm}; p=${k.publicKey}`;

/** A default selector that sorts by date and differs per rotation: "my" + YYYYMM. */
export const defaultSelector = (now: number): string => {
  const d = new Date(now);
  return `my${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
};

/** Where the record goes. */
export const dnsName = (k: Pick<DkimKey, "domain" | "selector">): string =>
  `${k.selector}._domainkey.${k.domain}`;

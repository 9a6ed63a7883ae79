// DKIM keys as values: making one (RSA 2048, RFC 6376 §3.3.3; Ed25519, RFC 8463 §3) and the
// TXT record an operator publishes at SELECTOR._domainkey.DOMAIN (RFC 6376 §3.6.1; for Ed25519
// p= is the raw 32-byte public key, RFC 8463 §4.2). No I/O.
import { generateKeyPairSync } from "node:crypto";

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
  if (!isDomain(domain)) throw new Error(`not a domain name: ${domain}`);
  if (!isSelector(selector)) throw new Error(`not a selector: ${selector}`);
  const pair =
    algorithm === "rsa"
      ? generateKeyPairSync("rsa", { modulusLength: 2048 })
      : generateKeyPairSync("ed25519");
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

/** Where the record goes. */
export const dnsName = (k: Pick<DkimKey, "domain" | "selector">): string =>
  `${k.selector}._domainkey.${k.domain}`;

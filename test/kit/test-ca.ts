// A certificate authority made at test time, and server certificates it signs, for tests that
// verify TLS: a certificate from the CA that names the host verifies; one from another CA, for
// another name, or self-signed does not. EC keys, so making them is quick.
import { generate } from "selfsigned";

export interface TestCa {
  /** The CA certificate (PEM): what a client trusts. */
  readonly cert: string;
  readonly key: string;
  /** A server certificate for these DNS names and IP addresses, signed by this CA. */
  issue(
    names: readonly string[],
    ips?: readonly string[],
    validity?: { readonly notBefore: Date; readonly notAfter: Date },
  ): Promise<{ key: string; cert: string }>;
}

/** A self-signed server certificate for these names (no CA vouches for it). */
export async function selfSigned(names: readonly string[]): Promise<{ key: string; cert: string }> {
  const c = await generate([{ name: "commonName", value: names[0] ?? "localhost" }], {
    keyType: "ec",
    algorithm: "sha256",
    extensions: [{ name: "subjectAltName", altNames: names.map((value) => ({ type: 2 as const, value })) }],
  });
  return { key: c.private, cert: c.cert };
}

export async function makeTestCa(name = "Mailyard Test CA"): Promise<TestCa> {
  const ca = await generate([{ name: "commonName", value: name }], {
    keyType: "ec",
    algorithm: "sha256",
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  return {
    cert: ca.cert,
    key: ca.private,
    async issue(names, ips = [], validity) {
      const leaf = await generate([{ name: "commonName", value: names[0] ?? ips[0] ?? "localhost" }], {
        ...(validity !== undefined
          ? { notBeforeDate: validity.notBefore, notAfterDate: validity.notAfter }
          : {}),
        keyType: "ec",
        algorithm: "sha256",
        ca: { key: ca.private, cert: ca.cert },
        extensions: [
          { name: "basicConstraints", cA: false },
          { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
          { name: "extKeyUsage", serverAuth: true },
          {
            name: "subjectAltName",
            altNames: [
              ...names.map((value) => ({ type: 2 as const, value })),
              ...ips.map((ip) => ({ type: 7 as const, ip })),
            ],
          },
        ],
      });
      return { key: leaf.private, cert: leaf.cert };
    },
  };
}

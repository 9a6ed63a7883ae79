// A certificate authority made at test time with the real openssl tool: its PEM certificate (to
// trust), leaf certificates it signs for given host names, and self-signed ones it does not.
// Keys are P-256 (fast to make); everything lives under the caller's directory.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface KeyPair {
  readonly key: string;
  readonly cert: string;
}

export interface TestCa {
  /** The CA certificate, PEM. */
  readonly cert: string;
  readonly certFile: string;
  /** A certificate for these DNS names, signed by the CA. */
  issue(names: readonly string[]): Promise<KeyPair>;
  /** A self-signed certificate for these names (no CA vouches for it). */
  selfSigned(names: readonly string[]): Promise<KeyPair>;
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export async function makeTestCa(parent: string): Promise<TestCa> {
  const dir = await mkdtemp(join(parent, "ca-"));
  const caKey = join(dir, "ca.key");
  const caCert = join(dir, "ca.pem");
  await run("openssl", [
    "req",
    "-x509",
    ...EC,
    "-keyout",
    caKey,
    "-out",
    caCert,
    "-days",
    "2",
    "-subj",
    "/CN=Mailyard Test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  let n = 0;
  const san = (names: readonly string[]): string =>
    `subjectAltName=${names.map((x) => `DNS:${x}`).join(",")}`;

  return {
    cert: await readFile(caCert, "utf8"),
    certFile: caCert,
    async issue(names) {
      const base = join(dir, `leaf${++n}`);
      await run("openssl", [
        "req",
        ...EC,
        "-keyout",
        `${base}.key`,
        "-out",
        `${base}.csr`,
        "-subj",
        `/CN=${names[0]}`,
      ]);
      await writeFile(`${base}.ext`, `${san(names)}\nextendedKeyUsage=serverAuth\n`);
      await run("openssl", [
        "x509",
        "-req",
        "-in",
        `${base}.csr`,
        "-CA",
        caCert,
        "-CAkey",
        caKey,
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        `${base}.ext`,
        "-out",
        `${base}.pem`,
      ]);
      return { key: await readFile(`${base}.key`, "utf8"), cert: await readFile(`${base}.pem`, "utf8") };
    },
    async selfSigned(names) {
      const base = join(dir, `self${++n}`);
      await run("openssl", [
        "req",
        "-x509",
        ...EC,
        "-keyout",
        `${base}.key`,
        "-out",
        `${base}.pem`,
        "-days",
        "2",
        "-subj",
        `/CN=${names[0]}`,
        "-addext",
        san(names),
      ]);
      return { key: await readFile(`${base}.key`, "utf8"), cert: await readFile(`${base}.pem`, "utf8") };
    },
  };
}

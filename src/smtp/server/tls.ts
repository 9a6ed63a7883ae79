// TLS material for STARTTLS: the PEM files named in smtp.tls, or, when both are empty, a
// self-signed pair made once under <dataDir>/tls/ and reused on later starts (opportunistic TLS
// between MTAs does not verify certificates, so self-signed still encrypts). The key file is
// written 0600 and both files are written whole (temp file + rename) so a crash never leaves a
// half-written pair; a lone file is treated as missing and the pair is made again.
//
// Every server context refuses client-initiated renegotiation (SSL_OP_NO_RENEGOTIATION): each
// one costs the server a full handshake at the client's bidding (CVE-2011-1473), and Node's
// tls.CLIENT_RENEG_LIMIT does not reach sockets upgraded in place by STARTTLS/STLS, which are
// made with new TLSSocket rather than by a tls.Server. TLS 1.3 has no renegotiation at all.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { constants } from "node:crypto";
import { createSecureContext, type SecureContextOptions, type SecureContext } from "node:tls";
import { generate } from "selfsigned";
import { ConfigError } from "../../config/load.js";
import { readSettingFile } from "../../config/setting-file.js";
import type { Settings } from "../../config/settings.js";
import type { Log } from "../../log/logger.js";

const VALID_DAYS = 3650;

/** A context for the server side of a TLS socket (SMTP STARTTLS, POP3 STLS). */
export const serverContext = (o: Pick<SecureContextOptions, "cert" | "key">): SecureContext =>
  createSecureContext({ ...o, secureOptions: constants.SSL_OP_NO_RENEGOTIATION });

async function readPair(certPath: string, keyPath: string): Promise<{ cert: string; key: string } | null> {
  try {
    return { cert: await readFile(certPath, "utf8"), key: await readFile(keyPath, "utf8") };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

/** The operator's pair as a context; PEM that does not parse or match is theirs to fix. */
function serverContextOf(cert: string, key: string): SecureContext {
  try {
    return serverContext({ cert, key });
  } catch (e) {
    throw new ConfigError(
      `smtp.tls: the cert and key cannot be used: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

async function writeWhole(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, path);
}

export async function loadOrCreateTls(settings: Settings, dataDir: string, log: Log): Promise<SecureContext> {
  const { cert, key } = settings.smtp.tls;
  if (cert !== "" || key !== "") {
    if (cert === "" || key === "") throw new ConfigError("smtp.tls needs both cert and key (or neither)");
    const context = serverContextOf(
      await readSettingFile("smtp.tls.cert", cert),
      await readSettingFile("smtp.tls.key", key),
    );
    log.major("TLS certificate loaded", { cert });
    return context;
  }
  const dir = join(dataDir, "tls");
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  const existing = await readPair(certPath, keyPath);
  if (existing !== null) {
    log.low("TLS self-signed certificate reused", { cert: certPath });
    return serverContext(existing);
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const now = new Date();
  const pems = await generate([{ name: "commonName", value: settings.hostname }], {
    keySize: 2048,
    algorithm: "sha256",
    notBeforeDate: now,
    notAfterDate: new Date(now.getTime() + VALID_DAYS * 86_400_000),
    extensions: [{ name: "subjectAltName", altNames: [{ type: 2, value: settings.hostname }] }],
  });
  // Key first: a cert without its key is useless, and the pair is only read when both exist.
  await writeWhole(keyPath, pems.private, 0o600);
  await writeWhole(certPath, pems.cert, 0o644);
  log.major("TLS self-signed certificate created", { cert: certPath, fingerprint: pems.fingerprint });
  return serverContext({ cert: pems.cert, key: pems.private });
}

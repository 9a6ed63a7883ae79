// smtp.forwardAuthFile and smtp.forwardCaFile: the smarthost login and the CAs its certificate
// must chain to, read once when the relay channel is made (at start), so a bad file stops the
// start with the setting named instead of deferring mail for days. The login is a password: a
// file that group or others may read is refused (a password in settings or on a command line
// would be readable by every local user, which is why it is a file at all). Both files are
// operator input and checked here: one `username:password` line; PEM certificates.
import { X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { ConfigError } from "./load.js";
import type { Settings } from "./settings.js";

export interface ForwardFiles {
  /** From smtp.forwardAuthFile; null when it is empty. */
  readonly credentials: { readonly username: string; readonly password: string } | null;
  /** The PEM text of smtp.forwardCaFile; undefined when it is empty. */
  readonly ca: string | undefined;
}

/** Longest user name or password accepted (base64 of both must fit one AUTH line, RFC 4954 §4). */
const MAX_PART = 1024;

export function readForwardFiles(settings: Settings): ForwardFiles {
  const authFile = settings.smtp.forwardAuthFile.trim();
  const caFile = settings.smtp.forwardCaFile.trim();
  return {
    credentials: authFile === "" ? null : readCredentials(authFile),
    ca: caFile === "" ? undefined : readCa(caFile),
  };
}

function read(key: string, file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(`${key}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

function readCredentials(file: string): ForwardFiles["credentials"] {
  const key = "smtp.forwardAuthFile";
  const text = read(key, file);
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(
      `${key}: ${file} may be read by group or others (mode ${mode.toString(8).padStart(4, "0")}); chmod 600 it`,
    );
  }
  const lines = text.split(/\r?\n/).filter((l) => l !== "");
  if (lines.length === 0) throw new ConfigError(`${key}: ${file} is empty`);
  if (lines.length > 1) throw new ConfigError(`${key}: ${file} must hold one username:password line`);
  const line = lines[0]!;
  const colon = line.indexOf(":");
  const username = colon < 0 ? "" : line.slice(0, colon);
  const password = colon < 0 ? "" : line.slice(colon + 1);
  if (username === "" || password === "")
    throw new ConfigError(`${key}: ${file} must hold username:password (both non-empty)`);
  // PLAIN separates the parts with NUL (RFC 4616 §2).
  if (line.includes("\0")) throw new ConfigError(`${key}: ${file} holds a NUL character`);
  if (username.length > MAX_PART || password.length > MAX_PART)
    throw new ConfigError(
      `${key}: ${file}: user name and password are limited to ${MAX_PART} characters each`,
    );
  return { username, password };
}

function readCa(file: string): string {
  const key = "smtp.forwardCaFile";
  const text = read(key, file);
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError(`${key}: ${file} holds no PEM certificate`);
  for (const [i, pem] of blocks.entries()) {
    try {
      new X509Certificate(pem);
    } catch (e) {
      throw new ConfigError(`${key}: ${file}: certificate ${i + 1} is unreadable: ${String(e)}`);
    }
  }
  return text;
}

// OpenDKIM as a real DKIM peer: `opendkim -t` verifies a message (keys from the Unbound server
// on loopback), `opendkim-testmsg` signs one with a key file. Bounded in time; temp files removed.
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** OpenDKIM's verdict line for the message (stderr of `opendkim -t`), e.g. "... verification (...) successful". */
export async function opendkimVerify(message: string | Buffer, resolverConfig: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-opendkim-"));
  try {
    const file = join(dir, "message.eml");
    await writeFile(file, message);
    const conf = join(dir, "opendkim.conf");
    await writeFile(conf, ["Mode v", `ResolverConfiguration ${resolverConfig}`, "Syslog no", ""].join("\n"));
    const r = await run("/usr/sbin/opendkim", ["-x", conf, "-t", file], { timeout: 30_000 }).catch(
      (e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? "", stderr: e.stderr ?? "" }),
    );
    return `${r.stdout}${r.stderr}`.trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The message signed by opendkim-testmsg (LF line endings in and out, as it expects). */
export async function opendkimSign(
  message: string,
  domain: string,
  selector: string,
  keyPem: string,
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-opendkim-"));
  try {
    const key = join(dir, "key.pem");
    await writeFile(key, keyPem, { mode: 0o600 });
    const child = spawn("/usr/sbin/opendkim-testmsg", ["-d", domain, "-s", selector, "-k", key], {
      stdio: ["pipe", "pipe", "pipe"],
      timeout: 30_000,
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      child.once("close", resolve);
      child.stdin.end(message.replace(/\r\n/g, "\n"));
    });
    if (code !== 0) throw new Error(`opendkim-testmsg failed (${code}): ${err}`);
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

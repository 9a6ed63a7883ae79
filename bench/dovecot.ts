// A private Dovecot LMTP server for the cluster-local scenario's Postfix path (Postfix → Dovecot
// LMTP → Maildir): Debian's /usr/sbin/dovecot in the foreground with its own config, base and
// state directories, log and Maildirs under the run directory, a passwd-file userdb with the
// benchmark's mailboxes. The system's Dovecot is never read, written or started. Dovecot refuses
// mail access as root, so under root the mail tree belongs to nobody (65534), as Postfix's
// virtual(8) does; not root, every service runs as the caller. Shared with the LMTP interop test
// (test/channel/dovecot.test.ts): the bench may not import test/.
import { spawn } from "node:child_process";
import { chmod, chown, mkdir, readFile, writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { join } from "node:path";
import { onCleanup } from "./cleanup.js";
import { freePort, waitForPort } from "./ports.js";

const DOVECOT = "/usr/sbin/dovecot";
const VMAIL_ID = 65534;

export interface Dovecot {
  readonly pid: number;
  readonly port: number;
  /** Maildirs live at <mail>/<domain>/<user>/new. */
  readonly mail: string;
  /** Its dovecot.conf (for doveadm -c) and log file. */
  readonly conf: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

/** dir: an empty directory of the run (Dovecot's processes must reach it); addresses: the userdb (user@domain). */
export async function startDovecot(dir: string, addresses: readonly string[]): Promise<Dovecot> {
  // Dovecot's auth and mail processes run as other users and must reach the userdb and Maildir.
  await chmod(dir, 0o755);
  const root = process.getuid?.() === 0;
  const uid = root ? VMAIL_ID : process.getuid!();
  const gid = root ? VMAIL_ID : process.getgid!();
  const mail = join(dir, "mail");
  for (const d of ["run", "state", "mail", "home"]) await mkdir(join(dir, d), { mode: 0o755 });
  if (root) {
    await chown(mail, uid, gid);
    await chown(join(dir, "home"), uid, gid);
  }
  const users = join(dir, "users");
  await writeFile(users, addresses.map((a) => `${a}::${uid}:${gid}::${join(dir, "home", a)}::\n`).join(""));
  const me = userInfo().username;
  const port = await freePort();
  const logFile = join(dir, "dovecot.log");
  const conf = join(dir, "dovecot.conf");
  await writeFile(
    conf,
    [
      "# Written by bench/dovecot.ts for one benchmark run.",
      "protocols = lmtp",
      `base_dir = ${join(dir, "run")}`,
      `state_dir = ${join(dir, "state")}`,
      `log_path = ${logFile}`,
      "ssl = no",
      "listen = 127.0.0.1",
      `mail_location = maildir:${mail}/%d/%n`,
      // Dovecot's default durability: a delivered message is fsync'd before LMTP's 250.
      "mail_fsync = optimized",
      "first_valid_uid = 0",
      "first_valid_gid = 0",
      // Not root: every service runs as this user (Dovecot's own users need root to switch to).
      ...(root ? [] : [`default_internal_user = ${me}`, `default_login_user = ${me}`]),
      `passdb {\n  driver = passwd-file\n  args = ${users}\n}`,
      `userdb {\n  driver = passwd-file\n  args = ${users}\n}`,
      `service lmtp {\n  inet_listener lmtp {\n    address = 127.0.0.1\n    port = ${port}\n  }\n}`,
      "",
    ].join("\n"),
  );
  const child = spawn(DOVECOT, ["-F", "-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  const stop = onCleanup(`dovecot in ${dir}`, async () => {
    if (!alive()) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await gone;
    clearTimeout(timer);
  });
  try {
    await waitForPort(port, 30_000, alive);
  } catch (e) {
    await stop();
    const log = await readFile(logFile, "utf8").catch(() => "");
    throw new Error(`dovecot did not start: ${String(e)}\n${stderr}\n${log}`, { cause: e });
  }
  return { pid: child.pid!, port, mail, conf, logFile, stop };
}

// A private Postfix instance for one benchmark run: its own config_directory, queue_directory,
// data_directory, mailboxes and log under a temporary directory, listening on its own loopback
// port. The system-wide Postfix (/etc/postfix) is never read, written or started. Durability is
// Postfix's default: queue files are fsync'd before the 250. Settings changed from Postfix's
// defaults are the ones this file writes, each with its reason.
import { execFile } from "node:child_process";
import { chmod, chown, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { onCleanup } from "./cleanup.js";
import { procStat, sessionMembers } from "./procstat.js";
import { freePort, waitForPort } from "./ports.js";
import { LOCAL_DOMAIN } from "./workload.js";
import type { Mta, MtaOptions } from "./mta.js";

const run = promisify(execFile);
/** Mailboxes belong to "nobody": virtual(8) refuses uids below virtual_minimum_uid and root. */
const VMAIL_ID = 65534;

function mainCf(dir: string, sinkPort: number): string {
  return `# Written by bench/postfix.ts for one benchmark run.
compatibility_level = 3.6
queue_directory = ${dir}/queue
data_directory = ${dir}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.bench.test
mydomain = bench.test
myorigin = $myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
# Nothing is delivered locally except the virtual domain; everything else is relayed to the sink.
mydestination =
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:${sinkPort}
smtp_dns_support_level = disabled
smtp_tls_security_level = none
smtpd_tls_security_level = none
alias_maps =
alias_database =
local_recipient_maps =
biff = no
# Log to a file in the run directory (there is no syslog), as Mailyard logs to its dataDir.
maillog_file = ${dir}/maillog
maillog_file_prefixes = ${dir}
# One smtpd process per connection: the default limit of 100 processes and 50 connections per
# client would cap the idle-connection scenario. Mailyard's per-client limit is raised the same way.
default_process_limit = 1100
smtpd_client_connection_count_limit = 0
# Local delivery: virtual(8) into Maildirs (a trailing slash in the map means Maildir).
virtual_mailbox_domains = ${LOCAL_DOMAIN}
virtual_mailbox_base = ${dir}/vmail
virtual_mailbox_maps = texthash:${dir}/conf/vmailbox
virtual_uid_maps = static:${VMAIL_ID}
virtual_gid_maps = static:${VMAIL_ID}
`;
}

function masterCf(smtpPort: number): string {
  // Debian's master.cf, minus the services that need programs not installed, with the chroot
  // column "n" everywhere: the run directory is not a prepared chroot.
  const services = [
    `127.0.0.1:${smtpPort} inet n - n - - smtpd`,
    "pickup unix n - n 60 1 pickup",
    "cleanup unix n - n - 0 cleanup",
    "qmgr unix n - n 300 1 qmgr",
    "tlsmgr unix - - n 1000? 1 tlsmgr",
    "rewrite unix - - n - - trivial-rewrite",
    "bounce unix - - n - 0 bounce",
    "defer unix - - n - 0 bounce",
    "trace unix - - n - 0 bounce",
    "verify unix - - n - 1 verify",
    "flush unix n - n 1000? 0 flush",
    "proxymap unix - - n - - proxymap",
    "proxywrite unix - - n - 1 proxymap",
    "smtp unix - - n - - smtp",
    "lmtp unix - - n - - lmtp",
    "relay unix - - n - - smtp",
    "showq unix n - n - - showq",
    "error unix - - n - - error",
    "retry unix - - n - - error",
    "discard unix - - n - - discard",
    "local unix - n n - - local",
    "virtual unix - n n - - virtual",
    "anvil unix - - n - 1 anvil",
    "scache unix - - n - 1 scache",
    "postlog unix-dgram n - n - 1 postlogd",
  ];
  return `# Written by bench/postfix.ts for one benchmark run.\n${services.join("\n")}\n`;
}

async function postfixCommand(conf: string, dir: string, verb: string): Promise<void> {
  try {
    await run("/usr/sbin/postfix", ["-c", conf, verb], { timeout: 60_000 });
  } catch (e) {
    // The postfix command reports to the log, not to a non-terminal stderr.
    const log = await readFile(join(dir, "maillog"), "utf8").catch(() => "");
    const tail = log.trim().split("\n").slice(-5).join("\n");
    throw new Error(`postfix ${verb} failed: ${e instanceof Error ? e.message : String(e)}\n${tail}`, {
      cause: e,
    });
  }
}

export async function startPostfix(o: MtaOptions): Promise<Mta> {
  const dir = o.dir;
  const conf = join(dir, "conf");
  // Every daemon runs as "postfix" (or "nobody" for virtual): the path must be traversable.
  await chmod(dir, 0o755);
  for (const d of ["conf", "queue", "data", "vmail"]) await mkdir(join(dir, d), { mode: 0o755 });
  await chown(join(dir, "data"), ...(await postfixIds()));
  await mkdir(join(dir, "vmail", LOCAL_DOMAIN), { mode: 0o755 });
  await chown(join(dir, "vmail"), VMAIL_ID, VMAIL_ID);
  await chown(join(dir, "vmail", LOCAL_DOMAIN), VMAIL_ID, VMAIL_ID);
  const smtpPort = await freePort();
  await writeFile(join(conf, "main.cf"), mainCf(dir, o.sinkPort) + (o.postfixMainCf ?? ""));
  await writeFile(join(conf, "master.cf"), masterCf(smtpPort) + (o.postfixMasterCf ?? ""));
  const map = Array.from({ length: o.mailboxes }, (_, i) => `u${i}@${LOCAL_DOMAIN} ${LOCAL_DOMAIN}/u${i}/`);
  await writeFile(join(conf, "vmailbox"), map.join("\n") + "\n");

  await postfixCommand(conf, dir, "check");
  // Registered before the start, so a start that half-worked is still stopped.
  let master = 0;
  const stop = onCleanup(`postfix in ${dir}`, async () => {
    await run("/usr/sbin/postfix", ["-c", conf, "stop"], { timeout: 30_000 }).catch(() => undefined);
    if (master === 0) master = await readMasterPid(dir);
    if (master !== 0) await reap(master);
    await rm(dir, { recursive: true, force: true });
  });
  try {
    await postfixCommand(conf, dir, "start");
    master = await readMasterPid(dir);
    if (master === 0) throw new Error("postfix started but wrote no master.pid");
    await waitForPort(smtpPort, 30_000, () => procStat(master) !== null);
  } catch (e) {
    await stop();
    throw e;
  }
  return { name: "postfix", pid: master, smtpPort, maildirRoot: join(dir, "vmail"), stop };
}

async function postfixIds(): Promise<[number, number]> {
  const { stdout } = await run("id", ["-u", "postfix"]);
  const { stdout: g } = await run("id", ["-g", "postfix"]);
  return [Number(stdout.trim()), Number(g.trim())];
}

async function readMasterPid(dir: string): Promise<number> {
  const text = await readFile(join(dir, "queue", "pid", "master.pid"), "utf8").catch(() => "");
  return Number(text.trim()) || 0;
}

/** Waits (bounded) for the master's whole session to exit after "postfix stop"; kills leftovers. */
async function reap(master: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (sessionMembers(master).length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const pid of sessionMembers(master)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

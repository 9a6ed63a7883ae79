// A real smarthost for the relay tests: a private Postfix (`postfix -c DIR`, its own queue, data
// and log under a temporary directory; /etc/postfix is never read or started) whose smtpd takes
// mail only from logged-in clients, with SASL through a private Dovecot's auth socket (a
// passwd-file passdb) in the same directory, and relays what it takes on to a sink. Two smtpd
// listeners: one with implicit TLS (smtpd_tls_wrappermode, as on port 465) and one without any
// TLS (no STARTTLS offered). Postfix runs its daemons as postfix and needs root to start: the
// tests skip elsewhere. Everything started here is stopped by stop(). Taken from
// bench/postfix.ts (the master.cf, the stop-and-reap) and test/channel/dovecot.test.ts.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, waitForPort } from "./ports.js";

const run = promisify(execFile);

export interface SmarthostOptions {
  /** Where Postfix relays what it accepted (an smtp-sink). */
  readonly sinkPort: number;
  /** The smtpd certificate and key (PEM). */
  readonly cert: string;
  readonly key: string;
  /** Logins the Dovecot passdb knows (passwords without ":"). */
  readonly users: Readonly<Record<string, string>>;
  /** myhostname, shown in Postfix's Received: line. */
  readonly hostname: string;
}

export interface Smarthost {
  /** smtpd with implicit TLS (smtpd_tls_wrappermode = yes). */
  readonly implicitPort: number;
  /** smtpd without TLS: no STARTTLS in its EHLO reply. */
  readonly plainPort: number;
  /** Postfix's log (maillog_file), for failure messages. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

/** Debian's master.cf, minus services needing programs not installed, nothing chrooted. */
const SERVICES = [
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
  "relay unix - - n - - smtp",
  "showq unix n - n - - showq",
  "error unix - - n - - error",
  "retry unix - - n - - error",
  "discard unix - - n - - discard",
  "anvil unix - - n - 1 anvil",
  "scache unix - - n - 1 scache",
  "postlog unix-dgram n - n - 1 postlogd",
];

export async function startSmarthost(o: SmarthostOptions): Promise<Smarthost> {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-smarthost-"));
  const stops: (() => Promise<void>)[] = [() => rm(dir, { recursive: true, force: true })];
  const stop = async (): Promise<void> => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
  };
  try {
    // Postfix's and Dovecot's unprivileged processes must traverse it.
    await chmod(dir, 0o755);
    const socket = await startDovecotAuth(dir, o.users, stops);
    const ports = await startPostfix(dir, o, socket, stops);
    return { ...ports, log: () => readFile(join(dir, "maillog"), "utf8").catch(() => ""), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function startDovecotAuth(
  dir: string,
  users: Readonly<Record<string, string>>,
  stops: (() => Promise<void>)[],
): Promise<string> {
  const base = join(dir, "dovecot");
  for (const d of ["", "run", "state"]) await mkdir(join(base, d), { recursive: true });
  const passwd = join(base, "passwd");
  await writeFile(
    passwd,
    Object.entries(users)
      .map(([u, p]) => `${u}:{PLAIN}${p}\n`)
      .join(""),
  );
  const socket = join(base, "auth-postfix");
  const logFile = join(base, "dovecot.log");
  const conf = join(base, "dovecot.conf");
  await writeFile(
    conf,
    [
      "protocols = none",
      `base_dir = ${join(base, "run")}`,
      `state_dir = ${join(base, "state")}`,
      `log_path = ${logFile}`,
      "ssl = no",
      // Postfix says whether its client is on TLS; the test requires TLS on Postfix's side.
      "disable_plaintext_auth = no",
      "auth_mechanisms = plain login",
      `passdb {\n  driver = passwd-file\n  args = ${passwd}\n}`,
      "userdb {\n  driver = static\n  args = uid=65534 gid=65534 home=/nonexistent\n}",
      // Postfix's smtpd (user postfix) connects to it; the directory is the test's own.
      `service auth {\n  unix_listener ${socket} {\n    mode = 0666\n  }\n}`,
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn("/usr/sbin/dovecot", ["-F", "-c", conf], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  stops.push(() => stopChild(child));
  try {
    await waitForSocket(socket, 15_000, () => child.exitCode === null);
  } catch (e) {
    const log = await readFile(logFile, "utf8").catch(() => "");
    throw new Error(`dovecot did not start: ${String(e)}\n${stderr}\n${log}`, { cause: e });
  }
  return socket;
}

async function startPostfix(
  dir: string,
  o: SmarthostOptions,
  saslSocket: string,
  stops: (() => Promise<void>)[],
): Promise<{ implicitPort: number; plainPort: number }> {
  const conf = join(dir, "conf");
  for (const d of ["conf", "queue", "data"]) await mkdir(join(dir, d), { mode: 0o755 });
  const [uid, gid] = await postfixIds();
  await chown(join(dir, "data"), uid, gid);
  // Read by smtpd before it drops root.
  await writeFile(join(conf, "cert.pem"), o.cert);
  await writeFile(join(conf, "key.pem"), o.key, { mode: 0o600 });
  const implicitPort = await freePort();
  const plainPort = await freePort();
  await writeFile(
    join(conf, "main.cf"),
    `# Written by test/kit/smarthost.ts for one test run.
compatibility_level = 3.6
queue_directory = ${dir}/queue
data_directory = ${dir}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = ${o.hostname}
mydomain = smarthost.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
# Nobody relays by address: only a logged-in client may send (reject, not defer, otherwise).
mynetworks = 192.0.2.1/32
smtpd_relay_restrictions = permit_sasl_authenticated, reject
relayhost = [127.0.0.1]:${o.sinkPort}
smtp_dns_support_level = disabled
smtp_tls_security_level = none
alias_maps =
alias_database =
local_recipient_maps =
biff = no
maillog_file = ${dir}/maillog
maillog_file_prefixes = ${dir}
smtpd_tls_cert_file = ${conf}/cert.pem
smtpd_tls_key_file = ${conf}/key.pem
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = ${saslSocket}
# Postfix's Received: line names the login: "(Authenticated sender: user)".
smtpd_sasl_authenticated_header = yes
`,
  );
  const services = [
    `127.0.0.1:${implicitPort} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt`,
    `127.0.0.1:${plainPort} inet n - n - - smtpd -o smtpd_tls_security_level=none -o smtpd_tls_auth_only=no`,
    ...SERVICES,
  ];
  await writeFile(join(conf, "master.cf"), `# Written by test/kit/smarthost.ts.\n${services.join("\n")}\n`);
  await postfix(conf, dir, "check");
  // Registered before the start, so a start that half-worked is still stopped.
  let master = 0;
  stops.push(async () => {
    await run("/usr/sbin/postfix", ["-c", conf, "stop"], { timeout: 30_000 }).catch(() => undefined);
    if (master === 0) master = await masterPid(dir);
    if (master !== 0) await reap(master);
  });
  await postfix(conf, dir, "start");
  master = await masterPid(dir);
  if (master === 0) throw new Error("postfix started but wrote no master.pid");
  await waitForPort(implicitPort, 30_000);
  await waitForPort(plainPort, 30_000);
  return { implicitPort, plainPort };
}

async function postfix(conf: string, dir: string, verb: string): Promise<void> {
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

async function postfixIds(): Promise<[number, number]> {
  const { stdout } = await run("id", ["-u", "postfix"]);
  const { stdout: g } = await run("id", ["-g", "postfix"]);
  return [Number(stdout.trim()), Number(g.trim())];
}

async function masterPid(dir: string): Promise<number> {
  const text = await readFile(join(dir, "queue", "pid", "master.pid"), "utf8").catch(() => "");
  return Number(text.trim()) || 0;
}

/** The processes of a session (the master is a session leader; its daemons are in it). */
async function sessionMembers(session: number): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir("/proc").catch(() => [] as string[])) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    // Fields after "(comm)": state ppid pgrp session ...
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[3]) === session) out.push(pid);
  }
  return out;
}

/** Waits (bounded) for the master's whole session to exit after "postfix stop"; kills leftovers. */
async function reap(master: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await sessionMembers(master)).length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const pid of await sessionMembers(master)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Resolves once the unix socket accepts a connection; rejects after timeoutMs or when alive() fails. */
async function waitForSocket(path: string, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect({ path });
      c.once("connect", () => {
        c.destroy();
        resolve(true);
      });
      c.once("error", () => resolve(false));
    });
    if (ok) return;
    if (!alive()) throw new Error("the process exited");
    if (Date.now() > deadline) throw new Error(`${path} did not open within ${timeoutMs} ms`);
    // Paces the polling; readiness is the connect.
    await new Promise((r) => setTimeout(r, 25));
  }
}

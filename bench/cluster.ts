// The cluster scenarios' paths, both behind the same private HAProxy (TCP mode, PROXY v2 to the
// MTA, as `mailyard lb-config haproxy` sets it up), so the balancer's cost and hop are the same:
//   cluster-local: HAProxy → Mailyard frontend → delivery channel → backend → Maildir,
//                  against HAProxy → Postfix → Dovecot LMTP → Maildir;
//   cluster-relay: HAProxy → Mailyard frontend → sink, against HAProxy → Postfix → sink.
// Mailyard's members are `mailyard start` processes (bench/mailyard.ts) sharing one SQLite state
// file made from the benchmark's directory template, every mailbox's home on the backend. The
// balancer's CPU is its own row, not the MTA's.
import { copyFile, mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { openSqliteClusterState } from "../src/cluster/sqlite-state.js";
import { systemClock } from "../src/world/clock.js";
import { onCleanup } from "./cleanup.js";
import { startDovecot } from "./dovecot.js";
import { startHaproxy } from "./haproxy.js";
import { startMailyard } from "./mailyard.js";
import type { Mta, MtaOptions } from "./mta.js";
import { startPostfix } from "./postfix.js";
import { LOCAL_DOMAIN } from "./workload.js";

export type ClusterPath = "local" | "relay";

/** An MTA behind the balancer: smtpPort is HAProxy's; balancerPid is measured apart. */
export type BalancedMta = Mta & { readonly balancerPid: number };

const SECRET = "bench-cluster-secret-0000000000042";

/** TCP mode, one server, PROXY v2 (Postfix's smtpd_upstream_proxy_protocol, Mailyard's proxyProtocolFrom). */
const haproxyConfig =
  (target: number) =>
  (port: number): string =>
    [
      "# Written by bench/cluster.ts for one benchmark run.",
      "global",
      "  maxconn 4096",
      "defaults",
      "  mode tcp",
      "  timeout connect 5s",
      "  timeout client 120s",
      "  timeout server 120s",
      "frontend smtp",
      `  bind 127.0.0.1:${port}`,
      "  default_backend mta",
      "backend mta",
      `  server m1 127.0.0.1:${target} send-proxy-v2`,
      "",
    ].join("\n");

/** Puts HAProxy in front of `mta`; stopping the result stops both. */
async function balance(mta: Mta & { stop(): Promise<void> }): Promise<BalancedMta> {
  let lb;
  try {
    lb = await startHaproxy(haproxyConfig(mta.smtpPort));
  } catch (e) {
    await mta.stop();
    throw e;
  }
  const stopLb = onCleanup("haproxy", () => lb.stop());
  return {
    ...mta,
    smtpPort: lb.port,
    balancerPid: lb.pid,
    stop: async () => {
      await stopLb();
      await mta.stop();
    },
  };
}

/** Polls the frontend's /healthz until it sees `id` live (bounded). */
async function waitLive(httpPort: number, id: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const live = await fetch(`http://127.0.0.1:${httpPort}/healthz`)
      .then((r) => r.json() as Promise<{ live?: string[] }>)
      .then((h) => h.live ?? [])
      .catch(() => [] as string[]);
    if (live.includes(id)) return;
    if (Date.now() > deadline) throw new Error(`the frontend did not see ${id} live within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function startMailyardCluster(
  path: ClusterPath,
  o: MtaOptions & { template: string; bin: string; profileDir: string | null; sets: readonly string[] },
): Promise<BalancedMta> {
  // The directory (domain, accounts) and the cluster state share one file, as on one machine.
  const stateUrl = join(o.dir, "state.db");
  for (const f of await readdir(o.template)) {
    if (f.startsWith("mailyard.db"))
      await copyFile(join(o.template, f), join(o.dir, f.replace("mailyard.db", "state.db")));
  }
  const state = openSqliteClusterState(stateUrl, systemClock);
  try {
    for (let i = 0; i < o.mailboxes; i++) await state.setHome(`u${i}@${LOCAL_DOMAIN}`, "b1");
  } finally {
    await state.close();
  }
  const common = [
    `state.url=${stateUrl}`,
    `cluster.secret=${SECRET}`,
    // The frontend learns of the backend from its heartbeat: soon after both start.
    "cluster.heartbeatSeconds=1",
    "channel.listen=127.0.0.1:0",
  ];
  const member = async (
    id: string,
    role: string,
    extra: readonly string[],
  ): ReturnType<typeof startMailyard> => {
    const dir = join(o.dir, id);
    await mkdir(dir);
    return startMailyard({
      ...o,
      dir,
      template: null,
      sets: [...common, `role=${role}`, `node.id=${id}`, `hostname=${id}.bench.test`, ...extra, ...o.sets],
    });
  };
  const backend = await member("b1", "backend", []);
  let frontend;
  try {
    frontend = await member("f1", "frontend", ["smtp.proxyProtocolFrom=127.0.0.1/32"]);
  } catch (e) {
    await backend.stop();
    throw e;
  }
  const both: Mta = {
    name: "mailyard",
    pid: [frontend.pid as number, backend.pid as number],
    smtpPort: frontend.smtpPort,
    maildirRoot: path === "local" ? backend.maildirRoot : frontend.maildirRoot,
    stop: async () => {
      await frontend.stop();
      await backend.stop();
      await rm(o.dir, { recursive: true, force: true });
    },
  };
  try {
    await waitLive(frontend.httpPort, "b1", 30_000);
  } catch (e) {
    await both.stop();
    throw e;
  }
  return balance(both);
}

export async function startPostfixCluster(path: ClusterPath, o: MtaOptions): Promise<BalancedMta> {
  const proxy = "smtpd_upstream_proxy_protocol = haproxy\n";
  if (path === "relay") return balance(await startPostfix({ ...o, postfixMainCf: proxy }));
  const dovecotDir = join(o.dir, "dovecot");
  await mkdir(dovecotDir);
  const addresses = Array.from({ length: o.mailboxes }, (_, i) => `u${i}@${LOCAL_DOMAIN}`);
  const dovecot = await startDovecot(dovecotDir, addresses);
  let postfix;
  try {
    postfix = await startPostfix({
      ...o,
      postfixMainCf: `${proxy}virtual_transport = lmtp:inet:127.0.0.1:${dovecot.port}\n`,
    });
  } catch (e) {
    await dovecot.stop();
    throw e;
  }
  return balance({
    ...postfix,
    pid: [postfix.pid as number, dovecot.pid],
    maildirRoot: dovecot.mail,
    // Postfix removes its run directory (and Dovecot's in it) on stop: Dovecot goes first.
    stop: async () => {
      await dovecot.stop();
      await postfix.stop();
    },
  });
}

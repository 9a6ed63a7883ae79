// `mailyard cluster members|homes|home|owners` and `mailyard lb-config haproxy`: the operator's
// view of the cluster state (a dynamic cluster's owners are the unexpired leases as of this
// machine's clock) and the one edit a static cluster needs by hand, an account's home backend.
// They open the state directly (the SQLite file shared by the processes of a machine, or
// PostgreSQL; either works while nodes run); whether a member is up is judged here as membership.ts does, from its last
// heartbeat and cluster.downAfterSeconds.
import type { ClusterState, MemberRecord } from "../cluster/state.js";
import type { Settings } from "../config/settings.js";
import { migrateState, openClusterStateStore, openDirectoryStore, SCHEMAS } from "../server/state-stores.js";
import { systemClock } from "../world/clock.js";
import { CliError, UsageError, type CliIo } from "./io.js";
import { lbConfigHaproxyCommand, parseProxyVersion } from "./lb-config-command.js";

interface ClusterValues {
  readonly json?: boolean | undefined;
  readonly listen?: string | undefined;
  readonly "proxy-version"?: string | undefined;
  readonly "submissions-listen"?: string | undefined;
}

const isUp = (m: MemberRecord, settings: Settings, now: number): boolean =>
  !m.left && now - m.lastHeartbeat <= settings.cluster.downAfterSeconds * 1000;

async function withState<T>(settings: Settings, fn: (s: ClusterState) => Promise<T>): Promise<T> {
  const state = await openClusterStateStore(settings, systemClock);
  try {
    return await fn(state);
  } finally {
    await state.close();
  }
}

async function members(settings: Settings, io: CliIo, json: boolean): Promise<void> {
  const now = systemClock.now();
  const rows = await withState(settings, (s) => s.members());
  const list = rows.map((m) => ({ ...m, up: isUp(m, settings, now) }));
  if (json) {
    io.out(JSON.stringify(list, null, 2));
    return;
  }
  if (list.length === 0) {
    io.out("no members");
    return;
  }
  for (const m of list) {
    const seen = ((now - m.lastHeartbeat) / 1000).toFixed(0);
    io.out(
      `${m.id}\t${m.role}\t${m.up ? "up" : "down"}\tsmtp=${m.smtp} http=${m.http} channel=${m.channel ?? "-"}` +
        `\tqueue=${m.queueSize}\tlast heartbeat ${seen}s ago${m.left ? " (left)" : ""}`,
    );
  }
}

async function setHome(settings: Settings, io: CliIo, address: string, node: string): Promise<void> {
  const directory = await openDirectoryStore(settings, systemClock);
  try {
    if ((await directory.getAccount(address)) === null)
      throw new CliError(`cluster home: no account ${address}`);
  } finally {
    await directory.close();
  }
  await withState(settings, async (s) => {
    const member = (await s.members()).find((m) => m.id === node);
    // A home may be set before its backend first starts; say so rather than refuse.
    if (member === undefined) io.err(`warning: ${node} has never joined the cluster`);
    else if (member.role !== "backend")
      throw new CliError(`cluster home: ${node} is a ${member.role}, not a backend`);
    await s.setHome(address, node);
  });
  io.out(`${address.toLowerCase()} -> ${node}`);
}

export async function clusterCommand(
  settings: Settings,
  io: CliIo,
  verb: string,
  args: readonly string[],
  values: ClusterValues,
): Promise<void> {
  switch (verb) {
    case "members":
      return members(settings, io, values.json === true);
    case "homes": {
      const homes = await withState(settings, (s) => s.homes());
      if (values.json === true) io.out(JSON.stringify(homes, null, 2));
      else for (const h of homes) io.out(`${h.account}\t${h.node}`);
      return;
    }
    case "owners": {
      const leases = await withState(settings, (s) => s.leases(systemClock.now()));
      if (values.json === true) io.out(JSON.stringify(leases, null, 2));
      else
        for (const l of leases)
          io.out(`${l.account}\t${l.owner}\tuntil ${new Date(l.expiresAt).toISOString()}\ttoken ${l.token}`);
      return;
    }
    case "home": {
      const [address = "", node] = args;
      if (node === undefined) {
        const home = await withState(settings, (s) => s.homeOf(address));
        if (home === null) throw new CliError(`cluster home: ${address} has no home backend`);
        io.out(home);
        return;
      }
      return setHome(settings, io, address, node);
    }
  }
  throw new UsageError(`unknown command: cluster ${verb}`);
}

export async function lbConfigCommand(settings: Settings, io: CliIo, values: ClusterValues): Promise<void> {
  const now = systemClock.now();
  const rows = await withState(settings, (s) => s.members());
  const frontends = rows
    .filter((m) => m.role === "frontend" && m.smtp !== "" && isUp(m, settings, now))
    .map((m) => ({ id: m.id, smtp: m.smtp, submissions: m.submissions }));
  lbConfigHaproxyCommand(io, {
    frontends,
    proxyVersion: parseProxyVersion(values["proxy-version"]),
    ...(values.listen !== undefined ? { listen: values.listen } : {}),
    ...(values["submissions-listen"] !== undefined
      ? { submissionsListen: values["submissions-listen"].trim() }
      : {}),
  });
}

/** `mailyard db migrate`: create or bring up to date every schema of the state. */
export async function dbMigrateCommand(settings: Settings, io: CliIo, values: ClusterValues): Promise<void> {
  const r = await migrateState(settings, systemClock);
  if (values.json === true) {
    io.out(JSON.stringify(r, null, 2));
    return;
  }
  const line = (what: string, x: { applied: readonly number[]; version: number }) =>
    `${what}\tversion ${x.version}\t${x.applied.length === 0 ? "up to date" : `applied ${x.applied.join(",")}`}`;
  io.out(`state ${r.where}`);
  for (const name of SCHEMAS) io.out(line(name, r[name]));
}

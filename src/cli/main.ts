// The mailyard command. Parses the command line (node:util parseArgs), loads settings
// (defaults < TOML < MAILYARD_* < --set) and runs one command. The only place that wires
// concrete adapters together for the operator. Exit codes: 0 done, 1 failed, 2 usage error
// (and a read-only command pointed at a state that does not exist); every failure is one line
// on stderr. Commands that change the state say on stderr where it is ("wrote to state ...").
import { parseArgs } from "node:util";
import { stringify as toToml } from "smol-toml";
import { ConfigError, explicitKeys, loadSettings } from "../config/load.js";
import type { Settings } from "../config/settings.js";
import { DirectoryError } from "../directory/directory.js";
import { clusterCommand, dbMigrateCommand, lbConfigCommand } from "./cluster-commands.js";
import { localClusterCommand } from "./local-cluster.js";
import { caCommand } from "./ca-commands.js";
import { adminUserCommand } from "./admin-user-commands.js";
import { accountCommand, aliasCommand, domainCommand } from "./directory-commands.js";
import { describeState, openDirectoryAccess } from "./directory-access.js";
import { memberStateSettings } from "../config/member-state.js";
import { stateLocation } from "../config/paths.js";
import { requireExistingState, StateMissingError, type SchemaName } from "../server/state-stores.js";
import { CliError, processIo, UsageError, type CliIo } from "./io.js";
import { queueCommand } from "./queue-commands.js";
import { sendmailMain } from "./sendmail.js";
import { rpopCommand } from "./rpop-commands.js";
import { rulesCommand, sieveCommand } from "./rules-commands.js";
import { dkimCommand } from "./dkim-commands.js";
import { nodeCommand } from "./node-commands.js";
import { startCommand } from "./start.js";
import { settingsCommand } from "./settings-command.js";
import { tlsCommand } from "./tls-command.js";
import { COMMANDS, GROUPS, USAGE } from "./usage.js";

const OPTIONS = {
  config: { type: "string" },
  set: { type: "string", multiple: true },
  json: { type: "boolean" },
  password: { type: "string" },
  quota: { type: "string" },
  "max-message-size": { type: "string" },
  disabled: { type: "boolean" },
  enabled: { type: "boolean" },
  "out-flow": { type: "string" },
  "in-flow": { type: "string" },
  text: { type: "string" },
  listen: { type: "string" },
  "proxy-version": { type: "string" },
  "submissions-listen": { type: "string" },
  home: { type: "string" },
  frontends: { type: "string" },
  backends: { type: "string" },
  dynamic: { type: "boolean" },
  data: { type: "string" },
  node: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  tls: { type: "string" },
  user: { type: "string" },
  apop: { type: "boolean" },
  keep: { type: "boolean" },
  delete: { type: "boolean" },
  interval: { type: "string" },
  insecure: { type: "boolean" },
  file: { type: "string" },
  selector: { type: "string" },
  algorithm: { type: "string" },
  ca: { type: "string" },
  out: { type: "string" },
  rotate: { type: "boolean" },
  "no-wait": { type: "boolean" },
  timeout: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const GLOBAL = new Set(["config", "set", "help"]);

/** Commands that change the state they open directly; each says where it wrote. */
const WRITES = new Set([
  "admin-user add",
  "admin-user passwd",
  "admin-user remove",
  "settings set",
  "settings unset",
  "rules set",
  "sieve put",
  "sieve remove",
  "dkim keygen",
  "dkim remove",
  "node drain",
  "node undrain",
]);

/** Command groups that open the state directly (no admin API first)... */
const DIRECT_STATE = new Set([
  "admin-user",
  "cluster",
  "settings",
  "rules",
  "sieve",
  "lb-config",
  "db",
  "dkim",
  "node",
]);
/** ...but for these commands of theirs, which open none (cluster up|down|status use their DIR). */
const NO_STATE = new Set(["sieve check", "cluster up", "cluster down", "cluster status", "cluster ca"]);

/**
 * The schema a read-only command reads, or null for one that writes (or opens no state). A
 * read-only command never creates a state: a missing one is an error naming where it looked.
 */
function readOnlySchema(name: string, args: readonly string[]): SchemaName | null {
  switch (name) {
    case "domain list":
    case "account list":
    case "alias list":
    case "account senders":
      return "directory";
    case "cluster members":
    case "cluster homes":
    case "cluster owners":
    case "settings get":
    case "lb-config haproxy":
    case "node status":
      return "cluster";
    case "cluster home":
      return args.length === 1 ? "cluster" : null;
    case "rules get":
    case "sieve get":
      return "rules";
    case "admin-user list":
      return "admin";
    case "rpop list":
      return "rpop";
    case "dkim list":
      return "dkim";
    default:
      return null;
  }
}

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    // parseArgs' messages name the option and say what is wrong; keep the first line.
    throw new UsageError((e as Error).message.split(/\n|\. To specify/)[0]!);
  }
}

async function run(argv: string[], io: CliIo): Promise<void> {
  const { values, positionals } = parse(argv);
  const [first, second] = positionals;
  if (values.help === true || first === "help" || first === undefined) {
    if (first === undefined && values.help !== true) throw new UsageError("no command given");
    io.out(USAGE);
    return;
  }
  const name = GROUPS.has(first) ? `${first} ${second ?? ""}`.trim() : first;
  const spec = COMMANDS[name];
  if (spec === undefined) {
    throw new UsageError(
      GROUPS.has(first) ? `unknown command: ${name} (try: mailyard help)` : `unknown command: ${first}`,
    );
  }
  const args = positionals.slice(name.split(" ").length);
  for (const key of Object.keys(values)) {
    if (!GLOBAL.has(key) && !spec.options.includes(key))
      throw new UsageError(`${name} does not take --${key}`);
  }
  if (args.length < spec.min || args.length > spec.max)
    throw new UsageError(`usage: mailyard ${name} ${spec.args}`.trimEnd());

  let settings: Settings = loadSettings({
    ...(values.config !== undefined ? { file: values.config } : {}),
    env: io.env,
    sets: values.set ?? [],
    cwd: io.cwd,
  });

  const [group = "", verb = ""] = name.split(" ");
  // Commands that open the state directly use the one the member with this dataDir recorded
  // (unless state.url is given); read-only ones never create it. Directory and rpop commands
  // do both themselves, after finding no running node to ask.
  const readSchema = readOnlySchema(name, args);
  if (DIRECT_STATE.has(group) && !NO_STATE.has(name)) {
    settings = memberStateSettings(settings);
    if (readSchema !== null) await requireExistingState(settings, readSchema);
  }
  const wrote = (): void => {
    if (WRITES.has(name) || (name === "cluster home" && args.length === 2))
      io.err(`wrote to state ${describeState(stateLocation(settings))}`);
  };
  switch (group) {
    case "start":
      return startCommand(settings, explicitKeys({ env: io.env, sets: values.set ?? [] }));
    case "config":
      io.out(values.json === true ? JSON.stringify(settings, null, 2) : toToml(settings));
      return;
    case "queue":
      return queueCommand(settings, io, verb, args, values);
    case "cluster":
      if (verb === "up" || verb === "down" || verb === "status") return localClusterCommand(io, verb, values);
      if (verb === "ca") return caCommand(settings, io, args, values);
      await clusterCommand(settings, io, verb, args, values);
      return wrote();
    case "admin-user":
      await adminUserCommand(settings, io, verb, args, values);
      return wrote();
    case "lb-config":
      return lbConfigCommand(settings, io, values);
    case "tls":
      return tlsCommand(settings, io, verb, args, values);
    case "settings":
      await settingsCommand(settings, io, verb, args, values);
      return wrote();
    case "db":
      return dbMigrateCommand(settings, io, values);
    case "node":
      await nodeCommand(settings, io, verb, args, values);
      return wrote();
    case "rpop":
      return rpopCommand(settings, io, verb, args, values);
    case "rules":
      await rulesCommand(settings, io, verb, args, values);
      return wrote();
    case "sieve":
      await sieveCommand(settings, io, verb, args);
      return wrote();
    case "dkim":
      await dkimCommand(settings, io, verb, args, values);
      return wrote();
    case "domain":
    case "account":
    case "alias": {
      const { ops, via } = await openDirectoryAccess(settings, { readOnly: readSchema !== null });
      try {
        if (group === "domain") await domainCommand(ops, io, verb, args, values);
        else if (group === "account") await accountCommand(ops, io, verb, args, values);
        else await aliasCommand(ops, io, verb, args, values);
      } finally {
        await ops.close();
      }
      if (readSchema === null) io.err(`wrote to state ${via}`);
      return;
    }
  }
  throw new UsageError(`unknown command: ${name}`);
}

/** Run one command line; resolves with the exit code. */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  // sendmail has the classic command line and sysexits.h codes, not mailyard's.
  if (argv[0] === "sendmail") return sendmailMain(argv.slice(1));
  // Everything a node or this command creates (state, queue, mail, logs, keys, run files) is
  // the node user's alone unless a setting says otherwise; explicit modes say so too, this
  // catches whatever a library creates. sendmail keeps the caller's umask (it runs as any user).
  process.umask(0o077);
  try {
    await run(argv, io);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`mailyard: ${e.message}\n(mailyard help for usage)`);
      return 2;
    }
    // A read-only command pointed at no state (a mistyped path): a usage error, naming the place.
    if (e instanceof StateMissingError) {
      io.err(`mailyard: ${e.message}`);
      return 2;
    }
    // The state database unreachable, or RPOP passwords sealed with another key file, is the
    // operator's to fix, not a bug: one line, no stack.
    const unavailable =
      e instanceof Error && (e.name === "StateUnavailableError" || e.name === "RpopSealError");
    if (e instanceof ConfigError || e instanceof CliError || e instanceof DirectoryError || unavailable) {
      io.err(e.message.startsWith("mailyard ") ? e.message : `mailyard: ${e.message}`);
      // The one place a configuration error (file, environment, --set, a stored setting, or a
      // file a setting names, found wrong at load or at start) becomes exit 2: the operator's to
      // fix, and a supervisor can tell it from a crash and not restart in a loop.
      return e instanceof CliError ? e.exitCode : e instanceof ConfigError ? 2 : 1;
    }
    io.err(`mailyard: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return 1;
  }
}

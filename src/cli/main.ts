// The mailyard command. Parses the command line (node:util parseArgs), loads settings
// (defaults < TOML < MAILYARD_* < --set) and runs one command. The only place that wires
// concrete adapters together for the operator. Exit codes: 0 done, 1 failed, 2 usage error;
// every failure is one line on stderr.
import { parseArgs } from "node:util";
import { stringify as toToml } from "smol-toml";
import { ConfigError, explicitKeys, loadSettings } from "../config/load.js";
import type { Settings } from "../config/settings.js";
import { DirectoryError } from "../directory/directory.js";
import { clusterCommand, dbMigrateCommand, lbConfigCommand } from "./cluster-commands.js";
import { localClusterCommand } from "./local-cluster.js";
import { adminUserCommand } from "./admin-user-commands.js";
import { accountCommand, aliasCommand, domainCommand } from "./directory-commands.js";
import { openDirectoryAccess } from "./directory-access.js";
import { CliError, processIo, UsageError, type CliIo } from "./io.js";
import { queueCommand } from "./queue-commands.js";
import { sendmailMain } from "./sendmail.js";
import { rpopCommand } from "./rpop-commands.js";
import { rulesCommand, sieveCommand } from "./rules-commands.js";
import { dkimCommand } from "./dkim-commands.js";
import { startCommand } from "./start.js";
import { settingsCommand } from "./settings-command.js";
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
  help: { type: "boolean", short: "h" },
} as const;

const GLOBAL = new Set(["config", "set", "help"]);

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

  const settings: Settings = loadSettings({
    ...(values.config !== undefined ? { file: values.config } : {}),
    env: io.env,
    sets: values.set ?? [],
    cwd: io.cwd,
  });

  const [group = "", verb = ""] = name.split(" ");
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
      return clusterCommand(settings, io, verb, args, values);
    case "admin-user":
      return adminUserCommand(settings, io, verb, args, values);
    case "lb-config":
      return lbConfigCommand(settings, io, values);
    case "settings":
      return settingsCommand(settings, io, verb, args, values);
    case "db":
      return dbMigrateCommand(settings, io, values);
    case "rpop":
      return rpopCommand(settings, io, verb, args, values);
    case "rules":
      return rulesCommand(settings, io, verb, args, values);
    case "sieve":
      return sieveCommand(settings, io, verb, args);
    case "dkim":
      return dkimCommand(settings, io, verb, args, values);
    case "domain":
    case "account":
    case "alias": {
      const { ops } = await openDirectoryAccess(settings);
      try {
        if (group === "domain") await domainCommand(ops, io, verb, args, values);
        else if (group === "account") await accountCommand(ops, io, verb, args, values);
        else await aliasCommand(ops, io, verb, args, values);
      } finally {
        await ops.close();
      }
      return;
    }
  }
  throw new UsageError(`unknown command: ${name}`);
}

/** Run one command line; resolves with the exit code. */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  // sendmail has the classic command line and sysexits.h codes, not mailyard's.
  if (argv[0] === "sendmail") return sendmailMain(argv.slice(1));
  try {
    await run(argv, io);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`mailyard: ${e.message}\n(mailyard help for usage)`);
      return 2;
    }
    // The state database unreachable is the operator's to fix, not a bug: one line, no stack.
    const unavailable = e instanceof Error && e.name === "StateUnavailableError";
    if (e instanceof ConfigError || e instanceof CliError || e instanceof DirectoryError || unavailable) {
      io.err(e.message.startsWith("mailyard ") ? e.message : `mailyard: ${e.message}`);
      return e instanceof CliError ? e.exitCode : 1;
    }
    io.err(`mailyard: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return 1;
  }
}

// The help text, and which options and how many arguments each command takes (checked before
// a command runs, so a typo is a usage error rather than an ignored option).

export const USAGE = `usage: mailyard <command> [options]

commands:
  start                                   run the node in the foreground (SIGINT/SIGTERM stop it)
  domain add|remove NAME                  add or remove a local domain
  domain list
  account add ADDRESS --password P [--home NODE] [account options]
                                          in a static cluster the account gets a home backend:
                                          NODE, else the live backend with the fewest accounts
  account set ADDRESS [account options] [--enabled|--disabled] [--password P]
  account remove ADDRESS
  account list [DOMAIN] [--json]
  account grant-sender ACCOUNT ADDRESS    let ACCOUNT send as ADDRESS (MAIL FROM and From:);
                                          @DOMAIN grants every address of that domain
  account revoke-sender ACCOUNT ADDRESS   take a grant back
  account senders ACCOUNT [--json]        the account's grants (itself and its aliases always count)
  alias add ADDRESS TARGET...             targets may be local or remote (a forwarder)
  alias remove ADDRESS
  alias list [DOMAIN] [--json]
  rpop add ACCOUNT --host H --user U --password P [--port N] [--tls none|stls|tls]
           [--insecure] [--apop] [--keep|--delete] [--interval SECONDS]
                                          poll a remote POP3 mailbox for ACCOUNT (default:
                                          STLS, certificate checked, delete, every 600 s)
  rpop list ACCOUNT [--json]              the account's RPOP entries (no passwords)
  rpop remove ACCOUNT ID
  queue list [--json]                     queue commands need the running node
  queue show ID [--json]
  queue hold|release|retry|delete ID
  queue reject ID [--text T]              bounce pending recipients now, with DSNs
  queue quarantined [--json]              files the queue moved aside (failed checksum, unreadable)
  config show [--json]                    the effective settings (TOML, or JSON)
  cluster members [--json]                the members in the cluster state, up or down
  settings get [KEY] [--node ID] [--json] Queue Processing settings: cluster.submitMessages,
                                          cluster.submitLog (cluster default, each member's own
                                          value and the value in effect)
  settings set KEY VALUE [--node ID]      change one, for a node or cluster-wide (live: members
                                          read it on their next heartbeat)
  settings get|set|unset MANAGED-KEY ...  the SMTP, queue and local delivery settings the
                                          WebAdmin manages (smtp.relayNetworks, queue.*, ...):
                                          stored over the config file, under env and --set
  cluster home ADDRESS [NODE]             show or set an account's home backend (static cluster)
  cluster homes [--json]                  every account's home backend
  cluster owners [--json]                 who holds each account open now (dynamic cluster:
                                          the unexpired leases, with expiry and token)
  cluster up --frontends N --backends M [--dynamic] [--data DIR]
                                          start a whole cluster on this machine (detached,
                                          HAProxy in front when installed); prints it as JSON
  cluster down [--data DIR]               stop what cluster up started in DIR
  cluster ca init [--ca DIR] [--rotate]   make the cluster CA (its key stays in DIR, default
                                          dataDir/ca, 0600); --rotate: a new CA, both trusted
  cluster ca issue NODE [--out DIR]       a member certificate for NODE, signed by the CA:
                                          member.pem, member.key, cluster-ca.pem into DIR (the
                                          tls/ folder of NODE's dataDir; default this node's)
  cluster ca retire [--ca DIR]            end a rotation: trust only the newest CA
  cluster status [--data DIR] [--json]    members, health, queues, homes and owners
                                          (DIR defaults to ./data/cluster)
  db migrate [--json]                     create or upgrade the state schemas (state.url:
                                          SQLite file or PostgreSQL); nodes also do it at start
  rules get SCOPE [--json]                SCOPE: server [--node ID], cluster, domain NAME,
                                          account ADDRESS; prints the rule set in the seed's
                                          text form (server: node ID's, default this node.id)
  rules set SCOPE --file F                replace a rule set (text form; errors give line:column)
  sieve put ACCOUNT FILE                  validate and store an account's Sieve script
  sieve get|remove ACCOUNT
  sieve check FILE                        validate only (errors give line:column)
  dkim keygen DOMAIN [--selector S] [--algorithm rsa|ed25519]
                                          make a signing key (RSA 2048 by default); prints
                                          the DNS TXT record text to publish on stdout
  dkim list [--json]                      the keys: domain, selector, algorithm, DNS name
  dkim remove DOMAIN [--selector S]       remove one selector's key, or all of the domain
  admin-user add NAME --password P        a WebAdmin administrator (or MAILYARD_ADMIN_PASSWORD)
  admin-user passwd NAME --password P     change an administrator's password
  admin-user remove NAME
  admin-user list [--json]
  node drain NODE [--no-wait] [--timeout SECONDS] [--json]
                                          stop NODE taking mail (its listeners answer 421) and
                                          hand its queue to live peers of its role; waits until
                                          the queue is empty (any machine that reaches the state)
  node undrain NODE [--json]              NODE takes mail and delivers again
  node status [NODE] [--json]             each member: up or down, draining/drained, queue size
  lb-config haproxy [--listen HOST:PORT] [--submissions-listen HOST:PORT] [--proxy-version 1|2]
                                          haproxy.cfg for the live frontends, on stdout
                                          (port 465: default 0.0.0.0:465 when a frontend
                                          has submissions.listen; "" for none)
  tls check DOMAIN [--json]               the outbound TLS policy for DOMAIN and why: MX
                                          hosts, MTA-STS, DANE TLSA records, the settings
  sendmail [-t] [-i] [-f SENDER] [-F NAME] [--] [RECIPIENT...]
                                          the classic sendmail interface: the message on
                                          stdin, sent through the running node, or kept in
                                          dataDir/Submitted/ until one runs (also: sendmail)
  help

account options:
  --quota BYTES|unlimited                 mailbox size limit (K/M/G suffixes: 50M)
  --max-message-size BYTES|default        largest message for this account
  --out-flow N/SECONDS|unlimited          at most N messages sent in any SECONDS
  --in-flow N/SECONDS|unlimited           at most N messages received in any SECONDS
  --disabled                              mail to and from the account is refused

every command:
  --config FILE                           TOML settings (default ./mailyard.toml if present)
  --set key=value                         override one setting (repeatable); see docs/CONFIG.md

Directory and rpop commands go through the running node's admin API (http.listen, token in
dataDir/admin.token) and open the state directly when no node is running: state.url, else the
state the node with this dataDir recorded at start (dataDir/state.location), else
dataDir/mailyard.db. Listing commands never create a state (exit 2 when there is none);
commands that change it print "wrote to state ..." on stderr.`;

const ACCOUNT = ["password", "quota", "max-message-size", "disabled", "out-flow", "in-flow"];

export interface CommandSpec {
  /** Positional arguments after the verb: at least min, at most max. */
  readonly min: number;
  readonly max: number;
  readonly options: readonly string[];
  readonly args: string;
}

export const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  start: { min: 0, max: 0, options: [], args: "" },
  help: { min: 0, max: 1, options: [], args: "[COMMAND]" },
  "domain add": { min: 1, max: 1, options: [], args: "NAME" },
  "domain remove": { min: 1, max: 1, options: [], args: "NAME" },
  "domain list": { min: 0, max: 0, options: ["json"], args: "" },
  "account add": { min: 1, max: 1, options: [...ACCOUNT, "home"], args: "ADDRESS --password P" },
  "account set": { min: 1, max: 1, options: [...ACCOUNT, "enabled"], args: "ADDRESS [options]" },
  "account remove": { min: 1, max: 1, options: [], args: "ADDRESS" },
  "account list": { min: 0, max: 1, options: ["json"], args: "[DOMAIN]" },
  "account grant-sender": { min: 2, max: 2, options: [], args: "ACCOUNT ADDRESS|@DOMAIN" },
  "account revoke-sender": { min: 2, max: 2, options: [], args: "ACCOUNT ADDRESS|@DOMAIN" },
  "account senders": { min: 1, max: 1, options: ["json"], args: "ACCOUNT [--json]" },
  "alias add": { min: 2, max: Infinity, options: [], args: "ADDRESS TARGET..." },
  "alias remove": { min: 1, max: 1, options: [], args: "ADDRESS" },
  "alias list": { min: 0, max: 1, options: ["json"], args: "[DOMAIN]" },
  "rpop add": {
    min: 1,
    max: 1,
    options: ["host", "port", "tls", "user", "password", "apop", "keep", "delete", "interval", "insecure"],
    args: "ACCOUNT --host H --user U --password P [options]",
  },
  "rpop list": { min: 1, max: 1, options: ["json"], args: "ACCOUNT" },
  "rpop remove": { min: 2, max: 2, options: [], args: "ACCOUNT ID" },
  "queue list": { min: 0, max: 0, options: ["json"], args: "" },
  "queue quarantined": { min: 0, max: 0, options: ["json"], args: "" },
  "queue show": { min: 1, max: 1, options: ["json"], args: "ID" },
  "queue hold": { min: 1, max: 1, options: [], args: "ID" },
  "queue release": { min: 1, max: 1, options: [], args: "ID" },
  "queue retry": { min: 1, max: 1, options: [], args: "ID" },
  "queue delete": { min: 1, max: 1, options: [], args: "ID" },
  "queue reject": { min: 1, max: 1, options: ["text"], args: "ID [--text T]" },
  "config show": { min: 0, max: 0, options: ["json"], args: "" },
  "cluster members": { min: 0, max: 0, options: ["json"], args: "" },
  "cluster home": { min: 1, max: 2, options: [], args: "ADDRESS [NODE]" },
  "cluster homes": { min: 0, max: 0, options: ["json"], args: "" },
  "cluster owners": { min: 0, max: 0, options: ["json"], args: "" },
  "cluster up": {
    min: 0,
    max: 0,
    options: ["frontends", "backends", "dynamic", "data"],
    args: "--frontends N --backends M [--dynamic] [--data DIR]",
  },
  "cluster down": { min: 0, max: 0, options: ["data"], args: "[--data DIR]" },
  "cluster ca": {
    min: 1,
    max: 2,
    options: ["ca", "out", "rotate"],
    args: "init [--rotate] | issue NODE [--out DIR] | retire  [--ca DIR]",
  },
  "cluster status": { min: 0, max: 0, options: ["data", "json"], args: "[--data DIR] [--json]" },
  "admin-user add": { min: 1, max: 1, options: ["password"], args: "NAME --password P" },
  "admin-user passwd": { min: 1, max: 1, options: ["password"], args: "NAME --password P" },
  "admin-user remove": { min: 1, max: 1, options: [], args: "NAME" },
  "admin-user list": { min: 0, max: 0, options: ["json"], args: "" },
  "settings get": { min: 0, max: 1, options: ["node", "json"], args: "[KEY] [--node ID] [--json]" },
  "settings set": { min: 2, max: 2, options: ["node"], args: "KEY VALUE [--node ID]" },
  "settings unset": { min: 1, max: 1, options: ["node"], args: "KEY [--node ID]" },
  "db migrate": { min: 0, max: 0, options: ["json"], args: "[--json]" },
  "rules get": {
    min: 1,
    max: 2,
    options: ["json", "node"],
    args: "server [--node ID]|cluster|domain NAME|account ADDRESS",
  },
  "rules set": {
    min: 1,
    max: 2,
    options: ["file", "node"],
    args: "server [--node ID]|cluster|domain NAME|account ADDRESS --file F",
  },
  "sieve put": { min: 2, max: 2, options: [], args: "ACCOUNT FILE" },
  "sieve get": { min: 1, max: 1, options: [], args: "ACCOUNT" },
  "sieve remove": { min: 1, max: 1, options: [], args: "ACCOUNT" },
  "sieve check": { min: 1, max: 2, options: [], args: "[ACCOUNT] FILE" },
  "dkim keygen": {
    min: 1,
    max: 1,
    options: ["selector", "algorithm"],
    args: "DOMAIN [--selector S] [--algorithm rsa|ed25519]",
  },
  "dkim list": { min: 0, max: 0, options: ["json"], args: "[--json]" },
  "dkim remove": { min: 1, max: 1, options: ["selector"], args: "DOMAIN [--selector S]" },
  "lb-config haproxy": {
    min: 0,
    max: 0,
    options: ["listen", "submissions-listen", "proxy-version"],
    args: "",
  },
  "node drain": {
    min: 1,
    max: 1,
    options: ["no-wait", "timeout", "json"],
    args: "NODE [--no-wait] [--timeout SECONDS] [--json]",
  },
  "node undrain": { min: 1, max: 1, options: ["json"], args: "NODE [--json]" },
  "node status": { min: 0, max: 1, options: ["json"], args: "[NODE] [--json]" },
  "tls check": { min: 1, max: 1, options: ["json"], args: "DOMAIN [--json]" },
};

/** Commands that take a verb ("domain add"), by their first word. */
export const GROUPS = new Set(
  Object.keys(COMMANDS)
    .filter((c) => c.includes(" "))
    .map((c) => c.split(" ")[0]!),
);

// `mailyard sendmail` (also installed as `sendmail`): the classic interface, so cron and scripts
// that pipe a message into `sendmail -t -i` work unchanged. It reads the message on stdin, does
// what sendmail did (a lone dot ends it unless -i, recipients from the arguments and with -t
// from To/Cc/Bcc, Bcc removed, From:/Date:/Message-ID: added when missing), then hands it to the
// running node over the admin API (POST /api/sendmail, the admin token from dataDir/admin.token).
// When no node answers (or it answers "try later") the message is written durably into the
// Submitted folder as a .sub file (written as .tmp, fsync'd, renamed, folder fsync'd), which the
// node submits when it runs. Exit codes are sysexits.h: 0 sent or safely stored, 64 usage,
// 65 bad message or no recipients, 69 the node will not take it, 73 cannot store the fallback
// file, 75 temporary failure, 78 bad configuration. Errors are one line on stderr.
import http from "node:http";
import { mkdir, readFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { join, resolve } from "node:path";
import { ConfigError, loadSettings } from "../config/load.js";
import { submittedDir } from "../config/paths.js";
import type { Settings } from "../config/settings.js";
import type { HeaderLimits } from "../proto/header-limit.js";
import { adminTokenPath } from "../admin/token.js";
import { SENDMAIL_PATH } from "../sources/pipe/route.js";
import { addressesOf, completeHeader, envelopeAddress } from "../sources/message/envelope.js";
import {
  field,
  fieldValues,
  HeaderError,
  HeaderLimitExceeded,
  joinMessage,
  parseMessage,
  toCrlf,
  withoutFields,
  type ParsedMessage,
} from "../sources/message/header.js";
import { closeFd, fsyncDir, fsyncFd, openFd, renamePath, unlinkPath, writevAll } from "../store/fs-calls.js";
import { adminTarget } from "./admin-client.js";
import { parseSendmailArgs, SendmailUsageError, type SendmailArgs } from "./sendmail-args.js";
import { randomBytes } from "node:crypto";

export const EX = {
  OK: 0,
  USAGE: 64,
  DATAERR: 65,
  UNAVAILABLE: 69,
  CANTCREAT: 73,
  TEMPFAIL: 75,
  CONFIG: 78,
} as const;

const TIMEOUT_MS = 30_000;

export interface SendmailIo {
  readonly stdin: AsyncIterable<Buffer | string>;
  err(text: string): void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

class Exit extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

async function readInput(
  stdin: AsyncIterable<Buffer | string>,
  limit: number,
  ignoreDots: boolean,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stdin) {
    const b = typeof c === "string" ? Buffer.from(c) : c;
    size += b.length;
    if (size > limit) throw new Exit(EX.DATAERR, `message larger than smtp.maxMessageSize (${limit} bytes)`);
    chunks.push(b);
  }
  const all = Buffer.concat(chunks);
  if (ignoreDots) return all;
  // Without -i a line holding only "." ends the message (the classic interface).
  const m = /(^|\n)\.\r?(\n|$)/.exec(all.toString("latin1"));
  return m === null ? all : all.subarray(0, m.index + m[1]!.length);
}

/** The message, or one with no header fields when the input starts with a body line. */
function readMessage(bytes: Buffer, limits: HeaderLimits): ParsedMessage {
  const crlf = toCrlf(bytes);
  try {
    return parseMessage(crlf, limits);
  } catch (e) {
    if (e instanceof HeaderLimitExceeded) throw new Exit(EX.DATAERR, `message refused: ${e.message}`);
    if (!(e instanceof HeaderError)) throw e;
    // `echo text | sendmail user` sends text as the body, as sendmail always did.
    const body = crlf.subarray(0, 2).toString("latin1") === "\r\n" ? crlf.subarray(2) : crlf;
    return { fields: [], body };
  }
}

interface Prepared {
  readonly sender: string;
  readonly recipients: string[];
  readonly message: Buffer;
}

export function prepare(args: SendmailArgs, input: Buffer, settings: Settings, user: string): Prepared {
  let m = readMessage(input, settings.smtp);
  const sender = args.sender ?? `${user}@${settings.hostname}`;
  if (sender !== "" && envelopeAddress(sender, "sender") === null)
    throw new Exit(EX.USAGE, `bad sender address: ${sender}`);
  const candidates = [
    ...addressesOf(args.recipients),
    ...(args.fromHeaders ? addressesOf(fieldValues(m, ["To", "Cc", "Bcc"])) : []),
  ];
  const recipients: string[] = [];
  for (const c of candidates) {
    const a = envelopeAddress(c, "recipient");
    if (a === null) throw new Exit(EX.DATAERR, `bad recipient address: ${c}`);
    if (!recipients.some((r) => r.toLowerCase() === a.toLowerCase())) recipients.push(a);
  }
  if (recipients.length === 0)
    throw new Exit(EX.DATAERR, "no recipients (give addresses, or -t with To:/Cc:/Bcc:)");
  m = withoutFields(m, ["Bcc"]);
  const name = args.fullName?.replace(/[\r\n"\\]/g, "").trim();
  const from = sender === "" ? `MAILER-DAEMON@${settings.hostname}` : sender;
  m = completeHeader(m, {
    now: Date.now(),
    hostname: settings.hostname,
    unique: randomBytes(12).toString("hex"),
    from: name === undefined || name === "" ? from : `"${name}" <${from}>`,
  });
  return { sender, recipients, message: joinMessage(m.fields, m.body) };
}

type Handover =
  | { kind: "sent"; id: string }
  | { kind: "no-node"; why: string }
  | { kind: "refused"; code: number; why: string };

/** POST the message to the node; "no-node" when nothing usable answers (fall back to the folder). */
async function handOver(settings: Settings, p: Prepared): Promise<Handover> {
  let token: string;
  try {
    token = (await readFile(adminTokenPath(resolve(settings.dataDir)), "utf8")).trim();
  } catch (e) {
    return {
      kind: "no-node",
      why: `admin token unreadable (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
    };
  }
  const target = adminTarget(settings);
  const query = new URLSearchParams([
    ["from", p.sender],
    ...p.recipients.map((r): [string, string] => ["to", r]),
  ]);
  return new Promise((done) => {
    const req = http.request(
      {
        host: target.host,
        port: target.port,
        method: "POST",
        path: `${SENDMAIL_PATH}?${query.toString()}`,
        timeout: TIMEOUT_MS,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "message/rfc822",
          "content-length": p.message.length,
          accept: "application/json",
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (e) => done({ kind: "no-node", why: e.message }));
        res.on("end", () => {
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
          } catch {
            // Not our node's JSON: judged by the status alone.
          }
          const why = typeof body["error"] === "string" ? body["error"] : `HTTP ${res.statusCode ?? 0}`;
          const status = res.statusCode ?? 0;
          if (status === 202 && typeof body["id"] === "string") done({ kind: "sent", id: body["id"] });
          else if (status === 503 || status >= 500) done({ kind: "no-node", why });
          else if (status === 400 || status === 413 || status === 422)
            done({ kind: "refused", code: EX.DATAERR, why });
          else if (status === 404)
            done({
              kind: "refused",
              code: EX.UNAVAILABLE,
              why: `the node at ${target.address} takes no sendmail messages (role ${settings.role}?)`,
            });
          else
            done({
              kind: "refused",
              code: EX.UNAVAILABLE,
              why: `the node at ${target.address} answered: ${why}`,
            });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on("error", (e) => done({ kind: "no-node", why: e.message }));
    req.end(p.message);
  });
}

/** Write the message as a .sub file: .tmp first, fsync, rename, fsync the folder. */
export async function writeSubFile(dir: string, p: Prepared): Promise<string> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o770 });
  } catch (e) {
    throw new Exit(EX.CANTCREAT, `cannot create the Submitted folder ${dir}: ${(e as Error).message}`);
  }
  const base = `${Date.now()}.${process.pid}.${randomBytes(4).toString("hex")}`;
  const tmp = join(dir, `${base}.tmp`);
  const envelope = [
    field("Envelope-From", `<${p.sender}>`).raw,
    ...p.recipients.map((r) => field("Envelope-To", `<${r}>`).raw),
    field("X-Mailyard-Source", "pipe").raw,
  ].join("");
  let fd: number;
  try {
    fd = await openFd(tmp, "wx", 0o660);
  } catch (e) {
    throw new Exit(EX.CANTCREAT, `cannot create ${tmp}: ${(e as Error).message}`);
  }
  try {
    try {
      await writevAll(fd, [Buffer.from(envelope, "latin1"), p.message]);
      await fsyncFd(fd);
    } finally {
      await closeFd(fd);
    }
    const final = join(dir, `${base}.sub`);
    await renamePath(tmp, final);
    await fsyncDir(dir);
    return final;
  } catch (e) {
    await unlinkPath(tmp).catch(() => undefined);
    throw new Exit(EX.TEMPFAIL, `cannot store the message in ${dir}: ${(e as Error).message}`);
  }
}

async function run(argv: readonly string[], io: SendmailIo): Promise<void> {
  let args: SendmailArgs;
  try {
    args = parseSendmailArgs(argv);
  } catch (e) {
    if (e instanceof SendmailUsageError) throw new Exit(EX.USAGE, e.message);
    throw e;
  }
  let settings: Settings;
  try {
    settings = loadSettings({
      ...(args.config !== null ? { file: args.config } : {}),
      env: io.env,
      sets: args.sets,
      cwd: io.cwd,
    });
  } catch (e) {
    if (e instanceof ConfigError) throw new Exit(EX.CONFIG, e.message);
    throw e;
  }
  const input = await readInput(io.stdin, settings.smtp.maxMessageSize, args.ignoreDots);
  const prepared = prepare(args, input, settings, userInfo().username);
  const r = await handOver(settings, prepared);
  if (r.kind === "sent") {
    if (args.verbose) io.err(`mailyard sendmail: queued as ${r.id}`);
    return;
  }
  if (r.kind === "refused") throw new Exit(r.code, r.why);
  const file = await writeSubFile(submittedDir(settings), prepared);
  if (args.verbose) io.err(`mailyard sendmail: no node took it (${r.why}); stored as ${file}`);
}

/** Run sendmail; resolves with the sysexits.h code. */
export async function sendmailMain(
  argv: readonly string[],
  io: SendmailIo = {
    stdin: process.stdin,
    err: (t) => void process.stderr.write(t.endsWith("\n") ? t : t + "\n"),
    env: process.env,
    cwd: process.cwd(),
  },
): Promise<number> {
  try {
    await run(argv, io);
    return EX.OK;
  } catch (e) {
    if (e instanceof Exit) {
      io.err(`sendmail: ${e.message}`);
      return e.code;
    }
    io.err(`sendmail: unexpected error: ${e instanceof Error ? e.message : String(e)}`);
    return EX.TEMPFAIL;
  }
}

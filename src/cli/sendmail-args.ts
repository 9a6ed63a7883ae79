// The classic sendmail command line, as cron, scripts and PHP's mail() call it, read into what
// `mailyard sendmail` does. Flags that only tuned the old program (delivery mode -od*, error
// mode -oe*, -v, -m, -n, -U, -oi's relatives, DSN options) are accepted and ignored, so existing
// callers work unchanged; anything else is refused (EX_USAGE), never silently misread.
// Before `--` or the first recipient, --config FILE and --set key=value choose the node as for
// every mailyard command. No I/O.

export interface SendmailArgs {
  /** -t: recipients also from To:, Cc:, Bcc:. */
  readonly fromHeaders: boolean;
  /** -i / -oi: a line with a lone dot does not end the message. */
  readonly ignoreDots: boolean;
  /** -f / -r: the envelope sender ("" for <>); null: the user running the command. */
  readonly sender: string | null;
  /** -F: the full name for a From: field the message lacks. */
  readonly fullName: string | null;
  readonly verbose: boolean;
  readonly recipients: readonly string[];
  readonly config: string | null;
  readonly sets: readonly string[];
}

export class SendmailUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SendmailUsageError";
  }
}

/** Flags taking a value that are accepted and ignored (DSN, body type, hop count, log tag, -C config). */
const IGNORED_WITH_VALUE = new Set(["N", "R", "V", "B", "h", "L", "C", "X"]);
/** Flags without a value that are accepted and ignored. */
const IGNORED = new Set(["m", "n", "U", "G", "s"]);

export function parseSendmailArgs(argv: readonly string[]): SendmailArgs {
  let fromHeaders = false;
  let ignoreDots = false;
  let sender: string | null = null;
  let fullName: string | null = null;
  let verbose = false;
  let config: string | null = null;
  const sets: string[] = [];
  const recipients: string[] = [];
  let i = 0;
  const value = (flag: string, rest: string): string => {
    if (rest !== "") return rest;
    const next = argv[++i];
    if (next === undefined) throw new SendmailUsageError(`option -${flag} needs a value`);
    return next;
  };
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      i++;
      break;
    }
    if (a === "--config" || a === "--set") {
      const v = argv[++i];
      if (v === undefined) throw new SendmailUsageError(`option ${a} needs a value`);
      if (a === "--config") config = v;
      else sets.push(v);
      continue;
    }
    if (a.startsWith("--")) throw new SendmailUsageError(`unknown option ${a}`);
    if (!a.startsWith("-") || a === "-") {
      recipients.push(a);
      continue;
    }
    const flag = a[1]!;
    const rest = a.slice(2);
    switch (flag) {
      case "t":
        if (rest !== "") throw new SendmailUsageError(`unknown option ${a}`);
        fromHeaders = true;
        break;
      case "i":
        if (rest !== "") throw new SendmailUsageError(`unknown option ${a}`);
        ignoreDots = true;
        break;
      case "v":
        verbose = true;
        break;
      case "f":
      case "r": {
        const v = value(flag, rest).trim();
        sender = v === "<>" ? "" : v.replace(/^<(.*)>$/, "$1");
        break;
      }
      case "F":
        fullName = value(flag, rest);
        break;
      case "b":
        // -bm is the default mode (read a message, send it); the other modes are other programs.
        if (rest !== "m") throw new SendmailUsageError(`mode -b${rest} is not supported (only -bm)`);
        break;
      case "o": {
        // -oi as -i; -od* delivery mode, -oe* error mode, -om, -oo, -ob*: ignored.
        if (rest === "i") ignoreDots = true;
        else if (!/^(d[a-z]?|e[a-z]?|m|o|b[a-z]?|A.*|Q.*)$/.test(rest))
          throw new SendmailUsageError(`unknown option ${a}`);
        break;
      }
      default:
        if (IGNORED_WITH_VALUE.has(flag)) value(flag, rest);
        else if (!IGNORED.has(flag) || rest !== "") throw new SendmailUsageError(`unknown option ${a}`);
    }
  }
  recipients.push(...argv.slice(i));
  return { fromHeaders, ignoreDots, sender, fullName, verbose, recipients, config, sets };
}

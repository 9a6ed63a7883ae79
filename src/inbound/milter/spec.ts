// One entry of smtp.milters, parsed: where the milter listens (Postfix's smtpd_milters syntax,
// inet:host:port or unix:/path) and, after white space, per-milter options as name=value:
//
//   inet:127.0.0.1:11332 events=connect+helo+mail+rcpt+header+body defaultAction=accept
//   unix:/run/clamav/clamav-milter.ctl contentTimeout=600
//
// (events are joined with "+"; "," works too, but not in MAILYARD_SMTP_MILTERS or --set, whose
// lists are comma-separated.)
// events: the steps the milter is sent (connect and end of message are always sent: the
// protocol has no way to leave them out); defaultAction, connectTimeout, commandTimeout and
// contentTimeout (seconds) override smtp.milterDefaultAction and the smtp.milter*Timeout
// settings for this milter. Operator input: a bad entry is an error at load time. No I/O.
import type { Settings } from "../../config/settings.js";

export const MILTER_EVENTS = ["connect", "helo", "mail", "rcpt", "header", "body", "eom"] as const;
export type MilterEvent = (typeof MILTER_EVENTS)[number];
export type MilterDefaultAction = "tempfail" | "accept" | "reject";

export type MilterTarget =
  | { readonly kind: "inet"; readonly host: string; readonly port: number }
  | { readonly kind: "unix"; readonly path: string };

export interface MilterSpec {
  /** The entry's address as written, for logs and metrics labels. */
  readonly name: string;
  readonly target: MilterTarget;
  readonly events: ReadonlySet<MilterEvent>;
  readonly defaultAction: MilterDefaultAction;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly contentTimeoutMs: number;
}

export interface MilterDefaults {
  readonly defaultAction: MilterDefaultAction;
  readonly connectTimeoutSeconds: number;
  readonly commandTimeoutSeconds: number;
  readonly contentTimeoutSeconds: number;
}

function parseTarget(text: string): MilterTarget | string {
  if (text.startsWith("unix:")) {
    const path = text.slice(5);
    return path.startsWith("/") ? { kind: "unix", path } : "unix: needs an absolute path";
  }
  const m = /^inet:(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(text);
  if (m === null) return "expected inet:host:port or unix:/path";
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return "port out of range";
  const host = m[1]!.startsWith("[") ? m[1]!.slice(1, -1) : m[1]!;
  return { kind: "inet", host, port };
}

/** The spec of one entry, or the reason it is not one. */
export function parseMilterSpec(entry: string, d: MilterDefaults): MilterSpec | string {
  const [address = "", ...options] = entry.trim().split(/\s+/);
  const target = parseTarget(address);
  if (typeof target === "string") return `${address}: ${target}`;
  let events = new Set<MilterEvent>(MILTER_EVENTS);
  let defaultAction = d.defaultAction;
  const timeouts = {
    connectTimeout: d.connectTimeoutSeconds,
    commandTimeout: d.commandTimeoutSeconds,
    contentTimeout: d.contentTimeoutSeconds,
  };
  for (const opt of options) {
    const eq = opt.indexOf("=");
    const name = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? "" : opt.slice(eq + 1);
    if (name === "events") {
      const list = value.split(/[+,]/).filter((e) => e !== "");
      const bad = list.find((e) => !(MILTER_EVENTS as readonly string[]).includes(e));
      if (bad !== undefined) return `${address}: unknown event ${bad} (${MILTER_EVENTS.join(", ")})`;
      events = new Set([...(list as MilterEvent[]), "connect", "eom"]);
    } else if (name === "defaultAction") {
      if (value !== "tempfail" && value !== "accept" && value !== "reject")
        return `${address}: defaultAction is tempfail, accept or reject`;
      defaultAction = value;
    } else if (name === "connectTimeout" || name === "commandTimeout" || name === "contentTimeout") {
      if (!/^\d{1,6}$/.test(value) || Number(value) === 0)
        return `${address}: ${name} is seconds (1 or more)`;
      timeouts[name] = Number(value);
    } else {
      return `${address}: unknown option ${name}`;
    }
  }
  return {
    name: address,
    target,
    events,
    defaultAction,
    connectTimeoutMs: timeouts.connectTimeout * 1000,
    commandTimeoutMs: timeouts.commandTimeout * 1000,
    contentTimeoutMs: timeouts.contentTimeout * 1000,
  };
}

/** Every milter of the settings, in order; throws on a bad entry (the schema checks them first). */
export function milterSpecs(settings: Settings): MilterSpec[] {
  const d: MilterDefaults = {
    defaultAction: settings.smtp.milterDefaultAction,
    connectTimeoutSeconds: settings.smtp.milterConnectTimeoutSeconds,
    commandTimeoutSeconds: settings.smtp.milterCommandTimeoutSeconds,
    contentTimeoutSeconds: settings.smtp.milterContentTimeoutSeconds,
  };
  return settings.smtp.milters.map((entry) => {
    const spec = parseMilterSpec(entry, d);
    if (typeof spec === "string") throw new Error(`smtp.milters: ${spec}`);
    return spec;
  });
}

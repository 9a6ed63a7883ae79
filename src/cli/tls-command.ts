// `mailyard tls check DOMAIN [--json]`: the outbound TLS policy the relay would apply to a
// recipient domain, and why (delivery/relay/tls-explain.ts), with the node's resolver and
// settings (smtp.outbound.tlsPolicy, tlsPolicies, daneResolver, caFile). A name that is no
// domain is a usage error (exit 2).
import type { Settings } from "../config/settings.js";
import { explainTlsPolicy, explanationLines } from "../delivery/relay/tls-explain.js";
import { toAsciiDomain } from "../proto/idna.js";
import { systemClock } from "../world/clock.js";
import { tcpDialer } from "../world/dialer.js";
import { systemResolver } from "../world/resolver.js";
import { UsageError, type CliIo } from "./io.js";

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** The domain in A-labels, lower-cased, or null when it is not a host name with a dot. */
export function checkedDomain(text: string): string | null {
  const ascii = toAsciiDomain(text.trim().replace(/\.$/, ""))?.toLowerCase() ?? null;
  if (ascii === null || ascii.length > 253) return null;
  const labels = ascii.split(".");
  return labels.length >= 2 && labels.every((l) => LABEL.test(l)) ? ascii : null;
}

export async function tlsCommand(
  settings: Settings,
  io: CliIo,
  verb: string,
  args: readonly string[],
  values: { readonly json?: boolean },
): Promise<void> {
  if (verb !== "check") throw new UsageError(`unknown command: tls ${verb}`);
  const domain = checkedDomain(args[0] ?? "");
  if (domain === null) throw new UsageError(`tls check: "${args[0] ?? ""}" is not a domain name`);
  const e = await explainTlsPolicy(domain, {
    settings,
    resolver: systemResolver(),
    dialer: tcpDialer,
    clock: systemClock,
  });
  io.out(values.json === true ? JSON.stringify(e, null, 2) : explanationLines(e).join("\n"));
}

// The verb table of a server: the core verbs of this folder (or another base set: the LMTP verbs
// of lmtp/) plus extra ones (remote submission, cluster AUTH). EHLO and LHLO advertise in table order. An extra verb
// may not replace a base one (that would change the
// protocol under every other verb's feet); that is a wiring mistake and throws at startup.
import { auth } from "./auth.js";
import { bdat } from "./bdat.js";
import { data } from "./data.js";
import { ehlo } from "./ehlo.js";
import { helo } from "./helo.js";
import { help } from "./help.js";
import { mail } from "./mail.js";
import { noop } from "./noop.js";
import { quit } from "./quit.js";
import { rcpt } from "./rcpt.js";
import { rset } from "./rset.js";
import { starttls } from "./starttls.js";
import type { Verb } from "./verb.js";
import { vrfy } from "./vrfy.js";

export const CORE_VERBS: readonly Verb[] = [
  ehlo,
  helo,
  mail,
  rcpt,
  data,
  bdat,
  rset,
  noop,
  quit,
  vrfy,
  starttls,
  auth,
  help,
];

export function verbRegistry(
  extra: readonly Verb[] = [],
  base: readonly Verb[] = CORE_VERBS,
): ReadonlyMap<string, Verb> {
  const table = new Map<string, Verb>();
  for (const v of [...base, ...extra]) {
    const name = v.name.toUpperCase();
    if (table.has(name)) throw new Error(`SMTP verb ${name} is defined twice`);
    table.set(name, v);
  }
  return table;
}

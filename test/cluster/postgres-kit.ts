// What the PostgreSQL cluster tests share: four accounts with their home backends, and a check
// of where every acknowledged message ended up (lost, misplaced, duplicated).
import { join } from "node:path";
import { SmtpClient } from "../kit/smtp-client.js";
import { maildirTags, type ProcCluster } from "./processes-kit.js";

export const HOMES: Readonly<Record<string, "b1" | "b2">> = {
  "u1@example.test": "b1",
  "u2@example.test": "b1",
  "v1@example.test": "b2",
  "v2@example.test": "b2",
};
export const ACCOUNTS = Object.keys(HOMES);
const indexOf = (tag: string): number => Number(tag.slice("load-".length));

export async function addAccounts(c: ProcCluster): Promise<void> {
  await c.directory.addDomain("example.test");
  for (const [address, home] of Object.entries(HOMES)) {
    await c.directory.addAccount(address, "pw");
    await c.state.setHome(address, home);
  }
}

/** Acknowledged tags found in no mailbox, and tags found anywhere but their home. */
export async function check(c: ProcCluster, acked: readonly string[]) {
  const found = new Map<string, string[]>();
  for (const address of ACCOUNTS)
    for (const node of ["b1", "b2"])
      for (const tag of await maildirTags(join(c.root, node, "mail"), address))
        found.set(tag, [...(found.get(tag) ?? []), `${node}:${address}`]);
  const home = (tag: string) => {
    const a = ACCOUNTS[indexOf(tag) % ACCOUNTS.length]!;
    return `${HOMES[a]}:${a}`;
  };
  return {
    lost: acked.filter((tag) => !found.has(tag)),
    misplaced: [...found].filter(([tag, at]) => at.some((p) => p !== home(tag))).map(([tag]) => tag),
    duplicated: [...found].filter(([, at]) => at.length > 1).map(([tag]) => tag),
  };
}

/** One RCPT through a member: the reply code. */
export async function rcptCode(port: number, to: string): Promise<number> {
  const c = await SmtpClient.connect(port);
  try {
    await c.expect(220);
    await c.cmd("EHLO probe.test", 250);
    await c.cmd("MAIL FROM:<probe@remote.test>", 250);
    const r = await c.cmd(`RCPT TO:<${to}>`);
    await c.cmd("QUIT");
    return r.code;
  } finally {
    c.close();
  }
}

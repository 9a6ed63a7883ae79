// What the drain tests share (drain*.test.ts): the first line an SMTP connection gets, the
// mailyard command on a process cluster's state, a member's queue size from its /healthz.
import net from "node:net";
import { mailyard } from "../cli/run-cli.js";
import type { Sink } from "../kit/sink.js";
import type { Member, ProcCluster } from "./processes-kit.js";

/** The first reply line a new connection gets (the greeting, or a 421), or null when refused. */
export const greeting = (port: number): Promise<string | null> =>
  new Promise((resolve) => {
    const c = net.connect({ host: "127.0.0.1", port });
    let buf = "";
    const done = (v: string | null): void => {
      c.destroy();
      resolve(v);
    };
    c.setTimeout(10_000, () => done(null));
    c.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      const i = buf.indexOf("\r\n");
      if (i >= 0) done(buf.slice(0, i));
    });
    c.once("error", () => done(null));
    c.once("close", () => done(buf === "" ? null : buf));
  });

export const tagsOf = async (sink: Sink): Promise<string[]> =>
  (await sink.messages()).flatMap((m) => [...m.matchAll(/^Subject: (load-\d+)\r?$/gm)].map((x) => x[1]!));

export function cli(c: ProcCluster, args: string[]) {
  return mailyard([
    ...args,
    "--set",
    `state.url=${c.stateUrl}`,
    "--set",
    "role=frontend",
    "--set",
    "cluster.downAfterSeconds=2",
  ]);
}

export const queueOf = async (m: Member): Promise<number> => (await m.health()).queue;

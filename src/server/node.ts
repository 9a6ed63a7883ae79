// Starting a Mailyard node: the data directory's lock first, then the role its settings name
// (roles.ts), wired by the one composition root (compose.ts). The world (clock, resolver,
// dialer, randomness, the event-loop pause) comes in here (start-options.ts) and nowhere deeper.
import { resolve } from "node:path";
import type { Settings } from "../config/settings.js";
import { lockDataDir } from "./data-lock.js";
import { startRoleNode } from "./roles.js";
import type { NodeOptions, RunningNode } from "./start-options.js";

export type { NodeOptions, NodeWorld, RunningNode } from "./start-options.js";

export async function startNode(settings: Settings, opts: NodeOptions): Promise<RunningNode> {
  // First thing, before any file under dataDir is read or moved (queue recovery): a second node
  // on the same directory must fail here and change nothing.
  const lock = await lockDataDir(resolve(settings.dataDir));
  let node: RunningNode;
  try {
    node = await startRoleNode(settings, opts);
  } catch (e) {
    lock.release();
    throw e;
  }
  return {
    ...node,
    async stop() {
      try {
        await node.stop();
      } finally {
        lock.release();
      }
    },
  };
}

// A dynamic cluster's backends must all write one mailbox root (local.mailDir on shared
// storage): the lease decides which backend writes an account now, and the next owner must find
// what the last one stored. A backend whose root is its own (a mount missing, a path mistyped)
// would store mail nobody else sees, and read an empty mailbox after a takeover. So a dynamic
// backend checks at start that its root is the cluster's: the first backend to start writes a
// marker file there with the cluster's id (derived from the cluster secret, so every member
// computes the same one and a marker of another cluster is told apart) and records in the
// cluster state that the root is marked; every later backend must see that marker, else it
// refuses to start (MailRootNotSharedError; `mailyard start` exits 2).
//
// Backends started at the very same moment for the very first time both see no record and
// both write the (identical) marker: what they cannot tell there is caught at their next start.
import { createHmac } from "node:crypto";
import { mkdir, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { fsyncDir, writeSynced } from "../store/fs-calls.js";
import type { ClusterState } from "./state.js";

export const MARKER_FILE = ".mailyard-cluster";
/** The cluster state row saying the root is marked (not a managed setting: no "config:" prefix). */
export const MARKED_KEY = "mailroot:marked";

/** The root is not the one the other backends write. */
export class MailRootNotSharedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MailRootNotSharedError";
  }
}

/** The cluster's id as written in the marker: the same on every member, reveals nothing. */
export const clusterId = (secret: string): string =>
  createHmac("sha256", secret).update("mailyard mailbox root marker").digest("hex").slice(0, 32);

const markerText = (id: string): string => `mailyard cluster ${id}\n`;

async function writeMarker(root: string, text: string): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  const tmp = join(root, `${MARKER_FILE}.${process.pid}.tmp`);
  await writeSynced(tmp, text, "all");
  await rename(tmp, join(root, MARKER_FILE));
  await fsyncDir(root);
}

export interface SharedRootCheck {
  readonly root: string;
  readonly secret: string;
  readonly nodeId: string;
  readonly state: Pick<ClusterState, "getSetting" | "setSetting">;
}

/** Resolves when the root is the cluster's (marking it if first); else MailRootNotSharedError. */
export async function checkSharedMailRoot(o: SharedRootCheck): Promise<void> {
  const expected = markerText(clusterId(o.secret));
  const path = join(o.root, MARKER_FILE);
  const found = await readFile(path, "utf8").catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return null;
    throw e;
  });
  if (found === expected) return;
  if (found !== null)
    throw new MailRootNotSharedError(
      `local.mailDir ${o.root} belongs to another cluster (${path} names another cluster id): ` +
        `a dynamic backend must use the mailbox root the other backends of this cluster share`,
    );
  const marked = await o.state.getSetting(MARKED_KEY);
  if (marked !== null)
    throw new MailRootNotSharedError(
      `local.mailDir ${o.root} is not shared with the other backends: ${path} is missing, but ` +
        `${marked} marked the cluster's mailbox root; mount the shared mailbox root there ` +
        `(every backend of a dynamic cluster must see the same files)`,
    );
  await writeMarker(o.root, expected);
  await o.state.setSetting(MARKED_KEY, `backend ${o.nodeId} at ${new Date().toISOString()}`);
}

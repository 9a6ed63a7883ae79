// `mailyard cluster ca init|issue|retire`: the cluster CA (src/cluster/tls/ca.ts). The CA's key
// stays in the CA directory (--ca DIR, default dataDir/ca, 0600) of the machine where `ca init`
// ran; members get only their own certificate and key and the CA certificate bundle
// (cluster-ca.pem), under their dataDir/tls/. Every command says where it wrote.
import { join, resolve } from "node:path";
import { CaError, initCa, issueMember, retireOldCa } from "../cluster/tls/ca.js";
import { isWireNodeId } from "../cluster/secret.js";
import type { Settings } from "../config/settings.js";
import { CliError, UsageError, type CliIo } from "./io.js";

export interface CaValues {
  readonly ca?: string | undefined;
  readonly out?: string | undefined;
  readonly rotate?: boolean | undefined;
}

export const defaultCaDir = (settings: Settings, cwd: string): string => resolve(cwd, settings.dataDir, "ca");

async function run(settings: Settings, io: CliIo, args: readonly string[], v: CaValues): Promise<void> {
  const [verb, node] = args;
  const caDir = v.ca !== undefined ? resolve(io.cwd, v.ca) : defaultCaDir(settings, io.cwd);
  switch (verb ?? "") {
    case "init": {
      if (node !== undefined || v.out !== undefined)
        throw new UsageError("usage: mailyard cluster ca init [--ca DIR] [--rotate]");
      const r = await initCa(caDir, { rotate: v.rotate === true });
      io.out(`cluster CA ${v.rotate === true ? "rotated" : "made"} in ${caDir} (sha256 ${r.fingerprint})`);
      io.out(`  ${join(caDir, "cluster-ca.key")}: the CA key, 0600; keep it here, never copy it to a member`);
      io.out(
        `  ${join(caDir, "cluster-ca.pem")}: the CA certificate${r.bundled > 1 ? "s (new first, old after)" : ""}; every member's tls/ gets a copy`,
      );
      if (v.rotate === true)
        io.out(
          "next: copy the bundle to every member's tls/cluster-ca.pem, then `ca issue` each member anew, then `ca retire`",
        );
      return;
    }
    case "issue": {
      if (node === undefined)
        throw new UsageError("usage: mailyard cluster ca issue NODE [--out DIR] [--ca DIR]");
      if (!isWireNodeId(node)) throw new UsageError(`not a node id: ${JSON.stringify(node)}`);
      if (v.rotate !== undefined) throw new UsageError("cluster ca issue does not take --rotate");
      // This node's own tls/ by default; for another node the operator says where its files go.
      let out: string;
      if (v.out !== undefined) out = resolve(io.cwd, v.out);
      else if (node === settings.node.id) out = resolve(io.cwd, settings.dataDir, "tls");
      else
        throw new UsageError(
          `cluster ca issue ${node}: give --out DIR (the tls/ folder of ${node}'s dataDir, or a folder to copy there)`,
        );
      const r = await issueMember(caDir, node, out);
      io.out(
        `member certificate for ${node} in ${out} (valid until ${r.notAfter}): member.pem, member.key (0600), cluster-ca.pem`,
      );
      return;
    }
    case "retire": {
      if (node !== undefined) throw new UsageError("usage: mailyard cluster ca retire [--ca DIR]");
      const r = await retireOldCa(caDir);
      io.out(
        `${join(caDir, "cluster-ca.pem")} now holds only the newest CA (sha256 ${r.fingerprint}); copy it to every member's tls/`,
      );
      return;
    }
  }
  throw new UsageError(`unknown command: cluster ca ${verb ?? ""} (init, issue NODE, retire)`);
}

export async function caCommand(
  settings: Settings,
  io: CliIo,
  args: readonly string[],
  v: CaValues,
): Promise<void> {
  try {
    await run(settings, io, args, v);
  } catch (e) {
    if (e instanceof CaError) throw new CliError(e.message);
    throw e;
  }
}

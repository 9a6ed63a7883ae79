// cluster.secretFile: the cluster secret read from a file when a node starts, so it need not be
// given on a command line, which every local user can read in /proc/PID/cmdline. Read here and
// not in loadSettings: commands that never use the secret (sendmail, run by any local user) must
// not need to read a file only the node's user may open. The file is operator input: its content
// is trimmed, and checked for length by the cluster roles as cluster.secret is.
import { ConfigError } from "./load.js";
import { readSettingFile } from "./setting-file.js";
import type { Settings } from "./settings.js";

/** The settings with cluster.secret taken from cluster.secretFile when that is set. */
export async function withSecretFile(settings: Settings): Promise<Settings> {
  const file = settings.cluster.secretFile.trim();
  if (file === "") return settings;
  if (settings.cluster.secret !== "")
    throw new ConfigError("cluster.secret and cluster.secretFile are both set; set one of them");
  const secret = (await readSettingFile("cluster.secretFile", file)).trim();
  if (secret === "") throw new ConfigError(`cluster.secretFile: ${file} is empty`);
  return { ...settings, cluster: { ...settings.cluster, secret } };
}

// A file that a setting names (cluster.secretFile, smtp.tls.cert, ...), read at start: one that
// cannot be read is the operator's mistake, a ConfigError naming the setting, not a crash.
import { readFile } from "node:fs/promises";
import { ConfigError } from "./load.js";

export async function readSettingFile(key: string, file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    throw new ConfigError(`${key}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

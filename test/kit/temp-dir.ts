// A fresh directory under the system's temp dir for one test, removed when the test ends (pass
// or fail), so no test leaves files behind or meets another's.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** What tempDir needs of a test: node:test's TestContext has it. */
export interface After {
  after(fn: () => Promise<void>): void;
}

export async function tempDir(t: After, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

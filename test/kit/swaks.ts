// swaks (Debian's /usr/bin/swaks, installed by scripts/test-peers.sh) as a real SMTP client:
// its exit code and everything it printed, the run bounded to 30 s.
import { execFile } from "node:child_process";

export const SWAKS = "/usr/bin/swaks";

export function swaks(args: readonly string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(SWAKS, [...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
      resolve({ code, out: stdout + stderr });
    });
  });
}

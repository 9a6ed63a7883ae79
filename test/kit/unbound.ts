// Debian's Unbound as a real DNS server on loopback, for peers that resolve names themselves
// (OpenDKIM): a static "test." zone from the records the test gives, nothing else answered or
// forwarded (never real DNS). Started on a free port, ready when its TCP port accepts, stopped
// by the test. Mailyard itself keeps using the injected resolver.
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitForPort } from "./ports.js";

export interface Unbound {
  readonly port: number;
  /** A libunbound configuration (OpenDKIM's ResolverConfiguration) that asks only this server. */
  readonly clientConfig: string;
  stop(): Promise<void>;
}

/** TXT text split into character-strings of at most 255 bytes (RFC 1035 §3.3.14). */
const txtData = (text: string): string =>
  (text.match(/.{1,250}/g) ?? [""]).map((s) => `"${s.replace(/"/g, '\\"')}"`).join(" ");

/** The start of unbound.conf every test server shares: loopback only, in the foreground, in `dir`. */
export const serverLines = (dir: string, port: number): string[] => [
  "server:",
  "  interface: 127.0.0.1",
  `  port: ${port}`,
  "  do-daemonize: no",
  '  username: ""',
  '  chroot: ""',
  `  directory: "${dir}"`,
  '  pidfile: ""',
  "  use-syslog: no",
  "  do-ip6: no",
  "  access-control: 127.0.0.0/8 allow",
];

export async function startUnbound(txt: Record<string, string>): Promise<Unbound> {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-unbound-"));
  const port = await freePort();
  const data = Object.entries(txt).map(
    ([name, text]) => `  local-data: '${name}. 60 IN TXT ${txtData(text)}'`,
  );
  await writeFile(
    join(dir, "unbound.conf"),
    [
      ...serverLines(dir, port),
      '  module-config: "iterator"',
      '  local-zone: "test." static',
      ...data,
      "remote-control:",
      "  control-enable: no",
      "",
    ].join("\n"),
  );
  const clientConfig = join(dir, "client.conf");
  await writeFile(
    clientConfig,
    [
      "server:",
      "  do-not-query-localhost: no",
      '  module-config: "iterator"',
      // libunbound answers RFC 6761's test. itself (NXDOMAIN) unless told not to.
      '  local-zone: "test." nodefault',
      "forward-zone:",
      '  name: "."',
      `  forward-addr: 127.0.0.1@${port}`,
      "",
    ].join("\n"),
  );
  const stop = await runUnbound(dir, port);
  return {
    port,
    clientConfig,
    stop,
  };
}

/**
 * Start /usr/sbin/unbound on DIR/unbound.conf, ready when PORT accepts TCP; the stop function
 * ends it and removes DIR.
 */
export async function runUnbound(dir: string, port: number): Promise<() => Promise<void>> {
  const child = spawn("/usr/sbin/unbound", ["-d", "-c", join(dir, "unbound.conf")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await waitForPort(port, 15_000);
  } catch (e) {
    child.kill("SIGKILL");
    await exited;
    await rm(dir, { recursive: true, force: true });
    throw new Error(`unbound did not start: ${stderr}`, { cause: e });
  }
  return async () => {
    child.kill("SIGTERM");
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
}

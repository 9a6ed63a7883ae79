// OpenDKIM as a signer the way MTAs use it: the `opendkim` milter (signing mode, its default
// rsa-sha256, relaxed/relaxed) on a loopback port, fed one message by a minimal MTA side of the
// milter protocol written for this test (negotiate, connect, HELO, MAIL, RCPT, headers, body,
// end of message) that collects the header fields the milter adds. Everything is bounded in
// time; the milter is stopped and its files removed. Not Mailyard's milter client: a test peer.
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitForPort } from "./ports.js";

const packet = (cmd: string, data: Buffer = Buffer.alloc(0)): Buffer => {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(data.length + 1, 0);
  head.write(cmd, 4, "latin1");
  return Buffer.concat([head, data]);
};
const z = (...parts: string[]): Buffer => Buffer.from(parts.map((p) => `${p}\0`).join(""), "latin1");

/** Reads milter packets from a socket, one at a time, each wait bounded. */
class Packets {
  private buf = Buffer.alloc(0);
  private waiting: (() => void) | null = null;
  private closed = false;
  constructor(sock: net.Socket) {
    sock.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiting?.();
    });
    sock.on("close", () => {
      this.closed = true;
      this.waiting?.();
    });
  }
  async next(timeoutMs = 10_000): Promise<{ cmd: string; data: Buffer }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buf.length >= 4) {
        const len = this.buf.readUInt32BE(0);
        if (this.buf.length >= 4 + len) {
          const cmd = this.buf.toString("latin1", 4, 5);
          const data = this.buf.subarray(5, 4 + len);
          this.buf = this.buf.subarray(4 + len);
          return { cmd, data };
        }
      }
      if (this.closed) throw new Error("milter closed the connection");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("milter did not answer");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiting = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiting = null;
    }
  }
}

/** The message (CRLF) with the header fields OpenDKIM's milter added, on top. */
export async function opendkimMilterSign(
  message: string,
  o: { domain: string; selector: string; keyPem: string; from: string; to: string },
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-opendkim-milter-"));
  const port = await freePort();
  await writeFile(join(dir, "key.pem"), o.keyPem, { mode: 0o600 });
  await writeFile(
    join(dir, "opendkim.conf"),
    [
      "Mode s",
      `Domain ${o.domain}`,
      `Selector ${o.selector}`,
      `KeyFile ${join(dir, "key.pem")}`,
      // The key sits under the world-writable tmp dir: a test setup, not a deployment.
      "RequireSafeKeys no",
      `Socket inet:${port}@127.0.0.1`,
      "Canonicalization relaxed/relaxed",
      "Background no",
      "Syslog no",
      "",
    ].join("\n"),
  );
  const child = spawn("/usr/sbin/opendkim", ["-f", "-x", join(dir, "opendkim.conf")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await waitForPort(port, 15_000).catch((e: unknown) => {
      throw new Error(`opendkim did not start: ${stderr}`, { cause: e });
    });
    const sock = net.connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => sock.once("connect", resolve).once("error", reject));
    const packets = new Packets(sock);
    const ask = async (cmd: string, data?: Buffer): Promise<{ cmd: string; data: Buffer }> => {
      sock.write(packet(cmd, data));
      return packets.next();
    };
    try {
      const neg = Buffer.alloc(12);
      neg.writeUInt32BE(6, 0); // protocol version 6
      neg.writeUInt32BE(0x1ff, 4); // every action the MTA allows
      neg.writeUInt32BE(0, 8); // no steps left out, a reply to each
      const o6 = await ask("O", neg);
      if (o6.cmd !== "O") throw new Error(`negotiation answered ${o6.cmd}`);
      const port4 = Buffer.alloc(2);
      port4.writeUInt16BE(25);
      const steps: [string, Buffer][] = [
        ["C", Buffer.concat([z("localhost"), Buffer.from("4"), port4, z("127.0.0.1")])],
        ["H", z("client.test")],
        ["M", z(`<${o.from}>`)],
        ["R", z(`<${o.to}>`)],
      ];
      const [head = "", body = ""] = message.split(/\r\n\r\n([^]*)/);
      for (const field of head.split(/\r\n(?![ \t])/)) {
        const colon = field.indexOf(":");
        steps.push(["L", z(field.slice(0, colon), field.slice(colon + 1).replace(/^ /, ""))]);
      }
      steps.push(["N", Buffer.alloc(0)], ["B", Buffer.from(body, "latin1")]);
      for (const [cmd, data] of steps) {
        const r = await ask(cmd, data);
        if (r.cmd !== "c") throw new Error(`milter answered ${r.cmd} to ${cmd}`);
      }
      sock.write(packet("E"));
      const added: string[] = [];
      for (let i = 0; i < 20; i++) {
        const r = await packets.next();
        if (r.cmd === "h" || r.cmd === "i") {
          const fields = (r.cmd === "i" ? r.data.subarray(4) : r.data).toString("latin1").split("\0");
          added.push(`${fields[0]}: ${(fields[1] ?? "").replace(/\r?\n/g, "\r\n")}`);
          continue;
        }
        if (r.cmd === "a" || r.cmd === "c") break;
        throw new Error(`milter answered ${r.cmd} at end of message`);
      }
      sock.write(packet("Q"));
      return added.map((f) => `${f}\r\n`).join("") + message;
    } finally {
      sock.destroy();
    }
  } finally {
    child.kill("SIGTERM");
    await exited;
    await rm(dir, { recursive: true, force: true });
  }
}

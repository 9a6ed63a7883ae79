// Interoperability with a real peer: Postfix's smtp-sink. A plain sink accepts (delivered); with
// -f RCPT it rejects recipients with 5xx (bounced); with -r RCPT with 4xx (deferred).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import type { DnsAnswer } from "../../src/world/resolver.js";
import { fakeResolver } from "../kit/resolver.js";
import { job, relayChannel, relaySettings } from "./fixtures.js";

const SINK = existsSync("/usr/sbin/smtp-sink") ? "/usr/sbin/smtp-sink" : "smtp-sink";
const ok = <T>(...records: T[]): DnsAnswer<T> => ({ kind: "ok", records });

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Resolves once something accepts connections on the port (bounded number of tries). */
async function accepting(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`smtp-sink exited with ${child.exitCode}`);
    const up = await new Promise<boolean>((resolve) => {
      const c = net.connect({ host: "127.0.0.1", port }, () => {
        c.destroy();
        resolve(true);
      });
      c.on("error", () => resolve(false));
    });
    if (up) return;
    // Backoff between probes of a process that is still starting.
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error("smtp-sink did not start listening");
}

async function startSink(t: { after(fn: () => Promise<void>): void }, extra: string[]): Promise<number> {
  const port = await freePort();
  const user = process.getuid?.() === 0 ? ["-u", "nobody"] : [];
  const child = spawn(SINK, [...user, ...extra, `127.0.0.1:${port}`, "100"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  t.after(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
  });
  await accepting(port, child);
  return port;
}

async function deliverTo(t: { after(fn: () => Promise<void>): void }, port: number, rcpts: string[]) {
  const resolver = fakeResolver({
    mx: { "example.test": ok({ exchange: "sink.example.test", priority: 10 }) },
    addresses: { "sink.example.test": ok("127.0.0.1") },
  });
  const { relay } = relayChannel(relaySettings(port), resolver);
  t.after(() => relay.close());
  const body = "From: a@origin.test\r\nSubject: sink\r\n\r\n.dot line\r\n" + "x".repeat(200_000) + "\r\n";
  return relay.deliver(job({ rcpts, body }));
}

test("smtp-sink accepts: delivered with its 250 reply", async (t) => {
  const port = await startSink(t, []);
  const out = await deliverTo(t, port, ["a@example.test", "b@example.test"]);
  assert.deepEqual(
    out.map((o) => [o.kind, o.reply.code]),
    [
      ["delivered", 250],
      ["delivered", 250],
    ],
  );
  assert.equal(out[0]!.relay, `sink.example.test[127.0.0.1]:${port}`);
});

test("smtp-sink -f RCPT: hard rejection, bounced", async (t) => {
  const port = await startSink(t, ["-f", "RCPT"]);
  const out = await deliverTo(t, port, ["a@example.test"]);
  assert.equal(out[0]!.kind, "bounced");
  assert.equal(Math.floor(out[0]!.reply.code / 100), 5);
  assert.equal(out[0]!.kind === "bounced" && out[0]!.scope, "recipient");
});

test("smtp-sink -r RCPT: soft rejection, deferred", async (t) => {
  const port = await startSink(t, ["-r", "RCPT"]);
  const out = await deliverTo(t, port, ["a@example.test"]);
  assert.equal(out[0]!.kind, "deferred");
  assert.equal(Math.floor(out[0]!.reply.code / 100), 4);
});

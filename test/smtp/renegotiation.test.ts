// Client-initiated TLS renegotiation is refused on every TLS server socket (issue 15, item 6):
// SMTP STARTTLS and POP3 STLS. A renegotiation costs the server a full handshake each time the
// client asks (a CPU lever, CVE-2011-1473), and Node's own limit (tls.CLIENT_RENEG_LIMIT) does
// not reach a TLSSocket made from a plain socket, as STARTTLS makes it: 40 in one session went
// through. The client here speaks TLS 1.2 (TLS 1.3 has no renegotiation) and asks once; the
// server must refuse, after which the session is over.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { startTestServer } from "../kit/smtp-server.js";
import { startPop3 } from "../pop3/fixtures.js";

/** Reads from `sock` until `want` matches what arrived (bounded). */
function readUntil(sock: net.Socket, want: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = "";
    const timer = setTimeout(
      () => done(new Error(`no ${String(want)} within 5 s: ${JSON.stringify(got)}`)),
      5_000,
    );
    const onData = (d: Buffer): void => {
      got += d.toString("latin1");
      if (want.test(got)) done(null);
    };
    const done = (e: Error | null): void => {
      clearTimeout(timer);
      sock.off("data", onData);
      if (e === null) resolve(got);
      else reject(e);
    };
    sock.on("data", onData);
  });
}

/** TLS 1.2 over the upgraded socket, then one renegotiation: its error, or null when it went through. */
async function renegotiate(raw: net.Socket): Promise<Error | null> {
  const secure = tls.connect({ socket: raw, rejectUnauthorized: false, maxVersion: "TLSv1.2" });
  secure.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    secure.once("secureConnect", () => resolve());
    secure.once("error", reject);
  });
  assert.equal(secure.getProtocol(), "TLSv1.2");
  try {
    return await new Promise<Error | null>((resolve) => {
      const timer = setTimeout(() => resolve(new Error("no answer to the renegotiation within 5 s")), 5_000);
      const settle = (e: Error | null): void => {
        clearTimeout(timer);
        resolve(e);
      };
      const started = secure.renegotiate({ rejectUnauthorized: false }, (e) => settle(e ?? null));
      if (!started) settle(new Error("renegotiate() refused locally"));
      // The handshake only runs while data flows.
      secure.write("NOOP\r\n");
      secure.once("close", () => settle(new Error("closed")));
    });
  } finally {
    secure.destroy();
  }
}

test("SMTP after STARTTLS: a client-initiated renegotiation is refused", async (t) => {
  const server = await startTestServer({ tls: true });
  t.after(() => server.close());
  const raw = net.connect(server.port, "127.0.0.1");
  t.after(() => raw.destroy());
  await readUntil(raw, /^220 .*\r\n/m);
  raw.write("EHLO client.test\r\n");
  await readUntil(raw, /^250 .*\r\n/m);
  raw.write("STARTTLS\r\n");
  await readUntil(raw, /^220 .*\r\n/m);
  const refused = await renegotiate(raw);
  assert.ok(refused !== null, "the renegotiation went through");
});

test("POP3 after STLS: a client-initiated renegotiation is refused", async (t) => {
  const f = await startPop3(t);
  const raw = net.connect(f.port, "127.0.0.1");
  t.after(() => raw.destroy());
  await readUntil(raw, /^\+OK.*\r\n/m);
  raw.write("STLS\r\n");
  await readUntil(raw, /^\+OK.*\r\n/m);
  const refused = await renegotiate(raw);
  assert.ok(refused !== null, "the renegotiation went through");
});

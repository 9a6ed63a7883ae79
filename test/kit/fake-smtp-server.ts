// A scriptable fake SMTP server for client misbehaviour tests (test-only, deliberately minimal:
// no limits, no policy). It records every session's transcript and raw reads, and every message
// as received (dot-unstuffed) and as on the wire. A script may override any command's reply,
// withhold it (null: the client must time out) or drop the connection ("close").
import net from "node:net";
import tls from "node:tls";
import { EventEmitter } from "node:events";

export interface FakeSession {
  readonly id: number;
  /** "C: <line>" and "S: <line>" in order. */
  readonly transcript: string[];
  /** Raw chunks read in command mode (latin1), to see what the client sent in one write. */
  readonly reads: string[];
  tls: boolean;
  mailFrom: string | null;
  rcptTo: string[];
}

export interface FakeMessage {
  readonly session: number;
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  /** The message after dot-unstuffing, without the terminator (".\r\n" after the last CRLF). */
  readonly data: Buffer;
  /** The DATA bytes as sent, terminator included. */
  readonly wire: Buffer;
}

/** Reply lines joined by "\n" (each a full "ddd text" line), null = never reply, "close" = hang up. */
export type ScriptReply = string | null | undefined;

export interface FakeSmtpOptions {
  /** Default "220 fake.test ESMTP"; null = never greet. */
  readonly greeting?: string | null;
  /** EHLO keywords; default PIPELINING, SIZE 10485760, 8BITMIME, ENHANCEDSTATUSCODES. */
  readonly extensions?: readonly string[];
  /** Called for every command line (and "." for end of data); undefined = default behaviour. */
  readonly script?: (line: string, session: FakeSession) => ScriptReply;
  /** With a key and certificate the server offers STARTTLS (maxVersion to force a failed handshake). */
  readonly tls?: { readonly key: string; readonly cert: string; readonly maxVersion?: tls.SecureVersion };
  /** Where to listen; default 127.0.0.1 on a port the OS picks. */
  readonly host?: string;
  readonly port?: number;
  /** With tls: TLS from the first byte (port 465 style), the greeting after the handshake; no STARTTLS. */
  readonly implicitTls?: boolean;
}

export interface FakeSmtpServer {
  readonly port: number;
  readonly sessions: FakeSession[];
  readonly messages: FakeMessage[];
  /** Connections accepted so far. */
  connections(): number;
  /** Resolves once pred() holds, re-checked after every event the server records. */
  waitFor(pred: () => boolean): Promise<void>;
  close(): Promise<void>;
}

const DEFAULT_EXTENSIONS = ["PIPELINING", "SIZE 10485760", "8BITMIME", "ENHANCEDSTATUSCODES"];

export async function startFakeSmtpServer(o: FakeSmtpOptions = {}): Promise<FakeSmtpServer> {
  const sessions: FakeSession[] = [];
  const messages: FakeMessage[] = [];
  const sockets = new Set<net.Socket>();
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const changed = (): boolean => events.emit("change");

  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on("close", () => sockets.delete(raw));
    raw.on("error", () => undefined);
    const s: FakeSession = {
      id: sessions.length + 1,
      transcript: [],
      reads: [],
      tls: false,
      mailFrom: null,
      rcptTo: [],
    };
    sessions.push(s);
    let sock: net.Socket = raw;
    let buf = Buffer.alloc(0);
    let dataMode = false;
    let closed = false;

    const send = (text: string): void => {
      for (const l of text.split("\n")) s.transcript.push(`S: ${l}`);
      sock.write(text.split("\n").join("\r\n") + "\r\n");
      changed();
    };
    const hangUp = (): void => {
      closed = true;
      sock.destroy();
      changed();
    };
    const answer = (line: string, dflt: () => string | null): string | null => {
      const scripted = o.script?.(line, s);
      const r = scripted === undefined ? dflt() : scripted;
      if (r === "close") hangUp();
      else if (r !== null) send(r);
      return r;
    };

    const command = (line: string): unknown => {
      s.transcript.push(`C: ${line}`);
      const verb = (/^\S+/.exec(line)?.[0] ?? "").toUpperCase();
      switch (verb) {
        case "EHLO":
          return answer(line, () => {
            const offerTls = o.tls !== undefined && !s.tls && o.implicitTls !== true;
            const ext = [...(o.extensions ?? DEFAULT_EXTENSIONS), ...(offerTls ? ["STARTTLS"] : [])];
            return ["fake.test greets you", ...ext]
              .map((e, i, a) => `250${i === a.length - 1 ? " " : "-"}${e}`)
              .join("\n");
          });
        case "HELO":
          return answer(line, () => "250 fake.test");
        case "MAIL":
          return answer(line, () => {
            s.mailFrom = /<([^>]*)>/.exec(line)?.[1] ?? "";
            s.rcptTo = [];
            return "250 2.1.0 OK";
          });
        case "RCPT":
          return answer(line, () => {
            s.rcptTo.push(/<([^>]*)>/.exec(line)?.[1] ?? "");
            return "250 2.1.5 OK";
          });
        case "DATA":
          return answer(line, () => {
            if (s.mailFrom === null || s.rcptTo.length === 0) return "554 5.5.1 No valid recipients";
            dataMode = true;
            return "354 End data with <CR><LF>.<CR><LF>";
          });
        case "RSET":
          return answer(line, () => {
            s.mailFrom = null;
            s.rcptTo = [];
            return "250 2.0.0 OK";
          });
        case "NOOP":
          return answer(line, () => "250 2.0.0 OK");
        case "QUIT":
          answer(line, () => "221 2.0.0 Bye");
          sock.end();
          return;
        case "STARTTLS":
          if (o.tls === undefined || s.tls) return answer(line, () => "502 5.5.1 Not implemented");
          // Take over the socket at once, so no TLS byte is read as a command.
          if (answer(line, () => "220 2.0.0 Ready to start TLS")?.startsWith("220") === true) upgrade(o.tls);
          return;
        default:
          return answer(line, () => "500 5.5.2 Syntax error");
      }
    };

    const endOfData = (wire: Buffer): void => {
      const body = wire.subarray(0, wire.length - 3); // drop ".\r\n"
      const data = Buffer.from(body.toString("latin1").replace(/(^|\r\n)\./g, "$1"), "latin1");
      messages.push({ session: s.id, mailFrom: s.mailFrom ?? "", rcptTo: [...s.rcptTo], data, wire });
      s.transcript.push("C: <message>", "C: .");
      changed();
      answer(".", () => `250 2.0.0 queued as ${messages.length}`);
      s.mailFrom = null;
      s.rcptTo = [];
    };

    const onData = (chunk: Buffer): void => {
      if (closed) return;
      if (!dataMode) s.reads.push(chunk.toString("latin1"));
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (closed) return;
        if (dataMode) {
          const end = buf.subarray(0, 3).equals(Buffer.from(".\r\n")) ? 0 : buf.indexOf("\r\n.\r\n");
          if (end < 0) return;
          const cut = end === 0 ? 3 : end + 5;
          const wire = buf.subarray(0, cut);
          buf = buf.subarray(cut);
          dataMode = false;
          endOfData(wire);
          continue;
        }
        const nl = buf.indexOf("\r\n");
        if (nl < 0) return;
        const line = buf.subarray(0, nl).toString("utf8");
        buf = buf.subarray(nl + 2);
        command(line);
        changed();
        if (sock !== raw && !s.tls) return; // upgrading: nothing more in plaintext
      }
    };

    const upgrade = (material: NonNullable<FakeSmtpOptions["tls"]>): void => {
      raw.removeListener("data", onData);
      const secure = new tls.TLSSocket(raw, {
        isServer: true,
        secureContext: tls.createSecureContext(material),
      });
      secure.on("error", () => undefined);
      secure.on("secure", () => {
        s.tls = true;
        changed();
        if (o.implicitTls === true) greet();
      });
      sock = secure;
      buf = Buffer.alloc(0);
      secure.on("data", onData);
    };

    const greet = (): void => {
      const greeting = o.greeting === undefined ? "220 fake.test ESMTP" : o.greeting;
      if (greeting !== null) send(greeting);
    };
    changed();
    if (o.implicitTls === true && o.tls !== undefined) upgrade(o.tls);
    else {
      raw.on("data", onData);
      greet();
    }
  });

  await new Promise<void>((resolve) => server.listen(o.port ?? 0, o.host ?? "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    sessions,
    messages,
    connections: () => sessions.length,
    waitFor(pred) {
      return new Promise<void>((resolve) => {
        if (pred()) return resolve();
        const check = (): void => {
          if (!pred()) return;
          events.removeListener("change", check);
          resolve();
        };
        events.on("change", check);
      });
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

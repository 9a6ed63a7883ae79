// A POP3 listener on a loopback port for protocol tests: a real SQLite directory and real
// Maildir folders in a temp dir, a Submitter that records what it is given (or refuses), and
// the clock the test chooses. Messages are put into the Maildir by the real MaildirStore.
import type { TestContext } from "node:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { SecureContext } from "node:tls";
import { generate } from "selfsigned";
import { settingsSchema, type Settings } from "../../src/config/settings.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import type { Directory } from "../../src/directory/directory.js";
import type { SubmitResult, Submitter } from "../../src/queue/submit.js";
import type { EnvelopeDraft } from "../../src/queue/types.js";
import { reply } from "../../src/proto/reply.js";
import { createMaildirStore, type MaildirStore } from "../../src/store/maildir.js";
import { createMaildirReader } from "../../src/store/maildir-reader.js";
import { createMailboxLocks } from "../../src/sources/pop3/lock.js";
import { createPop3Server, type Pop3Server } from "../../src/sources/pop3/server.js";
import { systemClock, type Clock } from "../../src/world/clock.js";
import { serverContext } from "../../src/smtp/server/tls.js";
import { memoryLogSink } from "../kit/log.js";
import { testLoginGates } from "../kit/login-gate.js";

export interface Submitted {
  readonly draft: EnvelopeDraft;
  readonly message: Buffer;
}

export interface Pop3Fixture {
  readonly port: number;
  readonly dir: string;
  readonly directory: Directory;
  readonly store: MaildirStore;
  readonly server: Pop3Server;
  readonly submitted: Submitted[];
  readonly logs: ReturnType<typeof memoryLogSink>;
  /** Put a message into alice's (or another account's) Maildir new/. */
  deliver(text: string, local?: string): Promise<string>;
  /** What the submitter answers next (default: ok). */
  refuseNext(r: SubmitResult | null): void;
}

let tlsContext: SecureContext | null = null;
async function testTls(): Promise<SecureContext> {
  if (tlsContext === null) {
    const pems = await generate([{ name: "commonName", value: "pop.example.test" }], { keySize: 2048 });
    // The production server context (renegotiation refused), as the node's POP3 listener has it.
    tlsContext = serverContext({ cert: pems.cert, key: pems.private });
  }
  return tlsContext;
}

export async function startPop3(
  t: TestContext,
  o: {
    settings?: Record<string, unknown>;
    clock?: Clock;
    tls?: boolean;
    stores?: (address: string) => Promise<boolean>;
  } = {},
): Promise<Pop3Fixture> {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-pop3-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const settings: Settings = settingsSchema.parse({
    dataDir: dir,
    hostname: "pop.example.test",
    log: { stdout: false },
    ...o.settings,
    pop3: { authRequiresTls: false, ...(o.settings?.["pop3"] as object | undefined) },
  });
  const clock = o.clock ?? systemClock;
  const directory = openSqliteDirectory(join(dir, "mailyard.db"), clock);
  t.after(() => directory.close());
  await directory.addDomain("example.test");
  await directory.addAccount("alice@example.test", "s3cret pass");
  await directory.addAccount("bob@example.test", "bobpw");
  const logs = memoryLogSink();
  const store = createMaildirStore(join(dir, "mail"), logs.for("LOCAL"));
  const submitted: Submitted[] = [];
  let next: SubmitResult | null = null;
  let seq = 0;
  const submitter: Submitter = {
    submit(draft, message) {
      const r = next;
      next = null;
      if (r !== null && !r.ok) return Promise.resolve(r);
      submitted.push({ draft, message });
      return Promise.resolve({ ok: true, id: `Q${++seq}`, node: "node1", remote: false });
    },
  };
  const server = createPop3Server({
    settings,
    directory,
    folder: (d, l) => store.folder(d, l),
    reader: createMaildirReader(),
    submitter,
    locks: createMailboxLocks({ clock, maxSessionMs: settings.pop3.sessionTimeoutSeconds * 1000 }),
    login: testLoginGates(t, settings, clock).mail,
    tls: o.tls === false ? null : await testTls(),
    ...(o.stores !== undefined ? { stores: o.stores } : {}),
    clock,
    log: logs.for("POP"),
  });
  const { port } = await server.listen("127.0.0.1", 0);
  t.after(() => server.close());
  return {
    port,
    dir,
    directory,
    store,
    server,
    submitted,
    logs,
    async deliver(text, local = "alice") {
      const stored = await store.deliver(
        "example.test",
        local,
        Readable.from([Buffer.from(text)]),
        Buffer.alloc(0),
      );
      return stored.path;
    },
    refuseNext(r) {
      next = r;
    },
  };
}

export const tempFailure: SubmitResult = {
  ok: false,
  reply: reply(452, "4.3.1", "Queue full, try again later"),
};

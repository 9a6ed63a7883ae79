// Idempotency keys of the submission API (the Idempotency-Key header, as payment APIs use it):
// a request retried with the same key never sends twice. Keys are per account, kept in a small
// SQLite file of the node (dataDir/submit-keys.db, synchronous=FULL) for
// submitApi.idempotencySeconds.
//
//   - A new key is written as "pending" (durably) before the message is submitted, and becomes
//     "done" with the answer once the submit succeeded. A failed request forgets the key, so a
//     retry after a 4xx/5xx tries again.
//   - The same key with the same request body gets the stored answer; while the first request
//     is still running in this process, the duplicate waits for it.
//   - The same key with a different body is a 422.
//   - A key left "pending" by a crash (its outcome unknown: the message may be queued) is a 409
//     until it expires: refusing is the only answer that cannot send twice.
import { createHash } from "node:crypto";
import Database from "better-sqlite3";
import type { Clock, TimerHandle } from "../../world/clock.js";
import { HttpError } from "../http/exchange.js";
import { prepareSqliteFile } from "../../state/sqlite-file.js";

export interface StoredAnswer {
  readonly status: number;
  readonly body: unknown;
}

export interface IdempotencyStore {
  /**
   * Run `work` at most once for (account, key, request). Returns the answer and whether it was
   * replayed from an earlier request.
   */
  once(
    account: string,
    key: string,
    request: Buffer,
    work: () => Promise<StoredAnswer>,
  ): Promise<{ answer: StoredAnswer; replayed: boolean }>;
  close(): void;
}

/** RFC 8941 sf-string content, as the Idempotency-Key draft has it; bounded. */
const KEY = /^[\x20-\x7e]{1,255}$/;

export function checkKey(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  const raw = (Array.isArray(header) ? header.join(",") : header).trim();
  const key = /^"(.*)"$/.exec(raw)?.[1] ?? raw;
  if (!KEY.test(key))
    throw new HttpError(400, "Idempotency-Key must be 1–255 printable ASCII characters", "Idempotency-Key");
  return key;
}

export function openIdempotencyStore(path: string, clock: Clock, keepMs: number): IdempotencyStore {
  prepareSqliteFile(path);
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec(`CREATE TABLE IF NOT EXISTS submit_keys (
    account TEXT NOT NULL,
    key TEXT NOT NULL,
    request TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    status INTEGER,
    answer TEXT,
    created INTEGER NOT NULL,
    PRIMARY KEY (account, key)
  )`);
  const get = db.prepare<
    [string, string],
    { request: string; state: string; status: number | null; answer: string | null }
  >("SELECT request, state, status, answer FROM submit_keys WHERE account = ? AND key = ?");
  const insert = db.prepare(
    "INSERT INTO submit_keys (account, key, request, state, created) VALUES (?, ?, ?, 'pending', ?)",
  );
  const finish = db.prepare(
    "UPDATE submit_keys SET state = 'done', status = ?, answer = ? WHERE account = ? AND key = ?",
  );
  const forget = db.prepare("DELETE FROM submit_keys WHERE account = ? AND key = ?");
  const expire = db.prepare("DELETE FROM submit_keys WHERE created < ?");

  const inFlight = new Map<string, Promise<StoredAnswer>>();
  let timer: TimerHandle | null = null;
  const purge = (): void => {
    expire.run(clock.now() - keepMs);
    timer = clock.setTimeout(purge, Math.min(keepMs, 3_600_000));
  };
  purge();

  const replay = (row: { status: number | null; answer: string | null }): StoredAnswer => ({
    status: row.status ?? 200,
    body: JSON.parse(row.answer ?? "null") as unknown,
  });

  return {
    async once(account, key, request, work) {
      const hash = createHash("sha256").update(request).digest("hex");
      const id = `${account}\n${key}`;
      for (;;) {
        // Rows past their time are gone for every reader, whether or not the purge has run.
        expire.run(clock.now() - keepMs);
        const row = get.get(account, key);
        if (row !== undefined) {
          if (row.request !== hash)
            throw new HttpError(
              422,
              "this Idempotency-Key was used for a different request",
              "Idempotency-Key",
            );
          if (row.state === "done") return { answer: replay(row), replayed: true };
          const running = inFlight.get(id);
          if (running === undefined)
            throw new HttpError(
              409,
              "an earlier request with this Idempotency-Key did not finish (the node stopped); its outcome is unknown",
              "Idempotency-Key",
            );
          // Wait for the first request; if it failed, its key is forgotten and we go again.
          await running.catch(() => undefined);
          continue;
        }
        insert.run(account, key, hash, clock.now());
        const p = work();
        inFlight.set(id, p);
        try {
          const answer = await p;
          finish.run(answer.status, JSON.stringify(answer.body), account, key);
          return { answer, replayed: false };
        } catch (e) {
          forget.run(account, key);
          throw e;
        } finally {
          inFlight.delete(id);
        }
      }
    },
    close() {
      timer?.cancel();
      db.close();
    },
  };
}

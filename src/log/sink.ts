// The log sink: turns Log calls into formatted lines (format.ts) and writes them to stdout and
// to a daily file <log dir>/mailyard-YYYY-MM-DD.log, the day taken from the injected clock (UTC).
// Invariants: a record never blocks its caller on I/O (lines are buffered and written in
// batches on the next turn of the event loop, in order); a failing disk never throws into the
// caller (the failure is reported on stdout and the file is reopened on the next batch); the
// buffer is bounded, and records that do not fit are counted and reported, not kept.
import { mkdir, open, type FileHandle } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Settings } from "../config/settings.js";
import type { Clock } from "../world/clock.js";
import { formatDate, formatRecord } from "./format.js";
import { TAGS, type Fields, type Level, type Log, type LogSink, type Tag } from "./logger.js";

/** Lines waiting for the writer beyond this are dropped (and counted) rather than held in memory. */
const MAX_PENDING = 100_000;

export interface CreateLogSinkOptions {
  readonly settings: Settings;
  readonly clock: Clock;
  readonly stdout?: NodeJS.WritableStream;
}

export interface FileLogSink extends LogSink {
  /** Resolves when every record made so far is written. */
  flush(): Promise<void>;
  /** Where the daily files go. */
  readonly dir: string;
}

/** settings.log.levels keys matched to tags without regard to case ("smtp" = "SMTP"). */
function initialLevels(settings: Settings): Map<Tag, Level> {
  const levels = new Map<Tag, Level>();
  for (const [name, level] of Object.entries(settings.log.levels)) {
    const tag = TAGS.find((t) => t === name.toUpperCase());
    if (tag !== undefined) levels.set(tag, level as Level);
  }
  return levels;
}

export function createLogSink(opts: CreateLogSinkOptions): FileLogSink {
  const { settings, clock } = opts;
  const stdout = settings.log.stdout ? opts.stdout : undefined;
  const dir = resolve(settings.log.dir !== "" ? settings.log.dir : join(settings.dataDir, "logs"));
  const defaultLevel = settings.log.level as Level;
  const levels = initialLevels(settings);

  let pending: { date: string; line: string }[] = [];
  let dropped = 0;
  let scheduled = false;
  let closed = false;
  let chain: Promise<void> = Promise.resolve();
  let file: { date: string; handle: FileHandle } | null = null;

  const levelOf = (tag: Tag): Level => levels.get(tag) ?? defaultLevel;

  const fileFor = async (date: string): Promise<FileHandle> => {
    if (file?.date === date) return file.handle;
    const old = file;
    file = null;
    if (old !== null) await old.handle.close().catch(() => undefined);
    // Log lines name senders, recipients and client addresses: the node user's alone.
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const handle = await open(join(dir, `mailyard-${date}.log`), "a", 0o600);
    file = { date, handle };
    return handle;
  };

  const writeBatch = async (batch: { date: string; line: string }[]): Promise<void> => {
    if (stdout !== undefined) stdout.write(batch.map((b) => b.line + "\n").join(""));
    // Consecutive lines of one day go out in one write; a new day reopens the file (rotation).
    let i = 0;
    while (i < batch.length) {
      const date = batch[i]!.date;
      let text = "";
      while (i < batch.length && batch[i]!.date === date) text += batch[i++]!.line + "\n";
      try {
        await (await fileFor(date)).write(text);
      } catch (e) {
        const stale = file;
        file = null;
        if (stale !== null) await stale.handle.close().catch(() => undefined);
        stdout?.write(`log file write failed dir=${dir} error="${String(e).replace(/["\n]/g, " ")}"\n`);
      }
    }
  };

  const drain = (): void => {
    scheduled = false;
    if (dropped > 0) {
      const at = clock.now();
      const line = formatRecord({
        at,
        level: 1,
        tag: "SYSTEM",
        session: 0,
        context: "",
        text: "log records dropped",
        fields: { count: dropped },
      });
      pending.push({ date: formatDate(at), line });
      dropped = 0;
    }
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    chain = chain.then(() => writeBatch(batch));
  };

  const emit = (
    tag: Tag,
    level: Level,
    session: number,
    context: string,
    text: string,
    fields: Fields,
  ): void => {
    if (closed || level > levelOf(tag)) return;
    if (pending.length >= MAX_PENDING) {
      dropped++;
      return;
    }
    const at = clock.now();
    pending.push({
      date: formatDate(at),
      line: formatRecord({ at, level, tag, session, context, text, fields }),
    });
    if (!scheduled) {
      scheduled = true;
      setImmediate(drain);
    }
  };

  const emitter: Emitter = { emit, levelOf };
  const make = (tag: Tag, session: number, context: string): Log =>
    new SinkLog(emitter, tag, session, context);

  const flush = async (): Promise<void> => {
    drain();
    await chain;
  };

  return {
    dir,
    for: (tag, session = 0, context = "") => make(tag, session, context),
    level: levelOf,
    setLevel: (tag, level) => void levels.set(tag, level),
    flush,
    async close() {
      if (closed) return chain;
      await flush();
      closed = true;
      const last = file;
      file = null;
      if (last !== null) await last.handle.close();
    },
  };
}

interface Emitter {
  emit(tag: Tag, level: Level, session: number, context: string, text: string, fields: Fields): void;
  levelOf(tag: Tag): Level;
}

/**
 * One log of a sink, with its methods on the prototype: a log per SMTP session is made for
 * every connection, and a closure per method cost each idle connection about a kilobyte.
 */
class SinkLog implements Log {
  constructor(
    private readonly sink: Emitter,
    readonly tag: Tag,
    readonly session: number,
    readonly context: string,
  ) {}

  enabled(level: Level): boolean {
    return level <= this.sink.levelOf(this.tag);
  }
  crash(text: string, fields: Fields = {}): void {
    this.sink.emit(this.tag, 0, this.session, this.context, text, fields);
  }
  failure(text: string, fields: Fields = {}): void {
    this.sink.emit(this.tag, 1, this.session, this.context, text, fields);
  }
  major(text: string, fields: Fields = {}): void {
    this.sink.emit(this.tag, 2, this.session, this.context, text, fields);
  }
  problem(text: string, fields: Fields = {}): void {
    this.sink.emit(this.tag, 3, this.session, this.context, text, fields);
  }
  low(text: string, fields: Fields = {}): void {
    this.sink.emit(this.tag, 4, this.session, this.context, text, fields);
  }
  info(text: string, fields: Fields = {}): void {
    this.sink.emit(this.tag, 5, this.session, this.context, text, fields);
  }
  with(session: number, context: string): Log {
    return new SinkLog(this.sink, this.tag, session, context);
  }
}

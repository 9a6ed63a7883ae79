// Tagged, levelled logging. One record per line:
//   HH:MM:SS.mmm <level digit> <TAG>-<6-digit session id>(<context>) <text>[ key=value ...]
// Text is constant; variable data goes in fields. Never log message bodies or AUTH secrets.

export const TAGS = [
  "SYSTEM",
  "SMTPI",
  "SMTP",
  "QUEUE",
  "DELIVERY",
  "LOCAL",
  "SUBMIT",
  "CLUSTER",
  "RULES",
  "ADMIN",
  "DIRECTORY",
  "DSN",
  "API",
  "PIPE",
  "POP",
  "RPOP",
] as const;
export type Tag = (typeof TAGS)[number];

/** The seed's levels: 0 Crashes Only, 1 Failures, 2 Major, 3 Problems, 4 Low Level, 5 All Info. */
export const LEVELS = { crash: 0, failure: 1, major: 2, problem: 3, low: 4, all: 5 } as const;
export type Level = (typeof LEVELS)[keyof typeof LEVELS];

export type Fields = Readonly<Record<string, string | number | boolean | null | undefined>>;

export interface Log {
  readonly tag: Tag;
  readonly session: number;
  readonly context: string;
  enabled(level: Level): boolean;
  crash(text: string, fields?: Fields): void;
  failure(text: string, fields?: Fields): void;
  major(text: string, fields?: Fields): void;
  problem(text: string, fields?: Fields): void;
  low(text: string, fields?: Fields): void;
  info(text: string, fields?: Fields): void;
  /** A log for a sub-context of the same tag (e.g. one SMTP session). */
  with(session: number, context: string): Log;
}

export interface LogSink {
  /** A log for a tag; session 0 and empty context for module-wide records. */
  for(tag: Tag, session?: number, context?: string): Log;
  /** Current level for a tag (settings may change it while running). */
  level(tag: Tag): Level;
  setLevel(tag: Tag, level: Level): void;
  close(): Promise<void>;
}

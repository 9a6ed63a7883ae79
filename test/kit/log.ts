// A Log that keeps records in memory (for assertions) and prints nothing.
import type { Fields, Level, Log, LogSink, Tag } from "../../src/log/logger.js";

export interface Record {
  tag: Tag;
  level: Level;
  session: number;
  context: string;
  text: string;
  fields: Fields;
}

/** Every tag records everything unless setLevel lowered it (as a node does for SUBMIT). */
export function memoryLogSink(): LogSink & { records: Record[] } {
  const records: Record[] = [];
  const levels = new Map<Tag, Level>();
  const make = (tag: Tag, session: number, context: string): Log => {
    const at =
      (level: Level) =>
      (text: string, fields: Fields = {}) => {
        if (level <= (levels.get(tag) ?? 5)) records.push({ tag, level, session, context, text, fields });
      };
    return {
      tag,
      session,
      context,
      enabled: (level) => level <= (levels.get(tag) ?? 5),
      crash: at(0),
      failure: at(1),
      major: at(2),
      problem: at(3),
      low: at(4),
      info: at(5),
      with: (s, c) => make(tag, s, c),
    };
  };
  return {
    records,
    for: (tag, session = 0, context = "") => make(tag, session, context),
    level: (tag) => levels.get(tag) ?? 5,
    setLevel: (tag, level) => void levels.set(tag, level),
    close: () => Promise.resolve(),
  };
}

export const silentLog = (tag: Tag = "SYSTEM"): Log => memoryLogSink().for(tag);

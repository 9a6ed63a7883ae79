import type { StartedSource } from "../../server/sources.js";
import type { SourceContext } from "../context.js";

export function startRpopSource(_ctx: SourceContext): Promise<StartedSource> {
  return Promise.resolve({ close: () => Promise.resolve() });
}

// What the bench self-tests give runOnce for runs of a few messages: the working tree's build
// (not a snapshot), short bounds, no profile and no extra settings.
import { fileURLToPath } from "node:url";
import type { FilterName, FilterPeer } from "./filters.js";
import type { RunContext } from "./measure.js";
import type { Sink } from "./sink.js";

export const smallRunContext = (
  base: string,
  sink: Sink,
  template: string,
  filters: ReadonlyMap<FilterName, FilterPeer>,
): RunContext => ({
  baseDir: base,
  profileDir: null,
  mailyardSets: [],
  sink,
  template,
  mailyardBin: fileURLToPath(new URL("../../bin/mailyard.js", import.meta.url)),
  loadTimeoutMs: 60_000,
  deliveryTimeoutMs: 60_000,
  filters,
});

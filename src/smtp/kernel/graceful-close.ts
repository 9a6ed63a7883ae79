// Stopping a protocol server without cutting replies off: stop accepting, ask every session to
// end (each sends its 421 and closes), give the sockets a grace period on the injected clock, then
// destroy what is still open. Used by every SessionListener.
import type net from "node:net";
import type { Clock } from "../../world/clock.js";

export async function closeGracefully(o: {
  server: net.Server;
  sessions: Iterable<{ shutdown(): void }>;
  sockets: Set<net.Socket>;
  clock: Clock;
  graceMs: number;
}): Promise<void> {
  const wasListening = o.server.listening;
  const stopped = new Promise<void>((resolve) => o.server.close(() => resolve()));
  for (const s of o.sessions) s.shutdown();
  const open = [...o.sockets];
  await new Promise<void>((resolve) => {
    const t = o.clock.setTimeout(resolve, o.graceMs);
    void Promise.all(open.map((k) => new Promise((r) => (k.destroyed ? r(null) : k.once("close", r))))).then(
      () => {
        t.cancel();
        resolve();
      },
    );
  });
  for (const k of o.sockets) k.destroy();
  if (wasListening) await stopped;
}

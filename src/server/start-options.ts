// What starting a node (node.ts) is given and gives back, for every role: the world (clock,
// resolver, dialer, randomness, the event-loop pause), which comes in here and nowhere deeper,
// with the real one for whatever a caller (a test) leaves out.
import type { LogSink } from "../log/logger.js";
import { immediatePause, type Pause } from "../rules/sieve/meter.js";
import { systemClock, type Clock } from "../world/clock.js";
import { tcpDialer, type Dialer } from "../world/dialer.js";
import { cryptoRandom, type Random } from "../world/random.js";
import { systemResolver, type Resolver } from "../world/resolver.js";

export interface NodeWorld {
  readonly clock: Clock;
  readonly resolver: Resolver;
  readonly dialer: Dialer;
  readonly random: Random;
  /** How long computations (rule evaluation) give the event loop back: setImmediate. */
  readonly pause: Pause;
}

export interface RunningNode {
  stop(): Promise<void>;
  readonly http: { address: string; port: number };
  readonly smtp: readonly { address: string; port: number }[];
  readonly submission: readonly { address: string; port: number }[];
  /** Implicit-TLS submission (port 465). */
  readonly submissions: readonly { address: string; port: number }[];
  /** POP3 listeners (single servers and backends; empty when pop3.listen is empty). */
  readonly pop3: readonly { address: string; port: number }[];
}

export interface NodeOptions {
  log: LogSink;
  world?: Partial<NodeWorld>;
  /** Keys given by environment or --set: stored (managed) settings do not override them. */
  pinned?: ReadonlySet<string>;
}

/** The world a node runs in: what the caller gave, the real one for the rest. */
export function nodeWorld(given: Partial<NodeWorld> = {}): NodeWorld {
  return {
    clock: given.clock ?? systemClock,
    resolver: given.resolver ?? systemResolver(),
    dialer: given.dialer ?? tcpDialer,
    random: given.random ?? cryptoRandom,
    pause: given.pause ?? immediatePause,
  };
}

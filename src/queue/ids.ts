// Queue ids: the spool's file names and the id in every log line. Sortable by arrival (time
// first, then a per-process counter), unique across restarts and processes (random tail), and
// safe as file names ([0-9A-Z] only). Time and randomness are injected.
import type { Clock } from "../world/clock.js";
import type { Random } from "../world/random.js";

const TIME_WIDTH = 9; // base36 ms since epoch fits 9 digits until the year 5188
const COUNTER_SPACE = 36 ** 4;
const RANDOM_SPACE = 36 ** 4;

const pad = (n: number, width: number): string => n.toString(36).toUpperCase().padStart(width, "0");

/** Pattern every queue id matches (what the spool accepts as a file name). */
export const QUEUE_ID = /^[0-9A-Z]{8,40}$/;

export function createIdGenerator(clock: Clock, random: Random): () => string {
  let lastTime = 0;
  let counter = 0;
  return () => {
    // A clock that steps back must not break ordering within this process.
    const now = Math.max(clock.now(), lastTime);
    if (now !== lastTime) {
      lastTime = now;
      counter = 0;
    } else if (++counter >= COUNTER_SPACE) {
      // 1.6 million ids in one millisecond: borrow the next millisecond.
      lastTime = now + 1;
      counter = 0;
    }
    return pad(lastTime, TIME_WIDTH) + pad(counter, 4) + pad(random.int(RANDOM_SPACE), 4);
  };
}

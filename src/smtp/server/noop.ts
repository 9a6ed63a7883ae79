// NOOP (RFC 5321 §4.1.1.9): any argument is ignored, as the RFC allows.
import { REPLIES } from "../../proto/reply.js";
import type { SessionApi, Verb } from "./verb.js";

export const noop: Verb = {
  name: "NOOP",
  run(s: SessionApi): Promise<void> {
    s.reply(REPLIES.ok);
    return Promise.resolve();
  },
};

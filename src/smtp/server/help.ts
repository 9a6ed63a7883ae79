// HELP (RFC 5321 §4.1.1.8): one fixed text whatever the argument.
import { REPLIES } from "../../proto/reply.js";
import type { SessionApi, Verb } from "./verb.js";

export const help: Verb = {
  name: "HELP",
  advertise: () => ["HELP"],
  run(s: SessionApi): Promise<void> {
    s.reply(REPLIES.help);
    return Promise.resolve();
  },
};

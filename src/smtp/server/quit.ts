// QUIT (RFC 5321 §4.1.1.10): 221, then the server closes. An open transaction is dropped.
import { REPLIES } from "../../proto/reply.js";
import { resettingVerb } from "./rset.js";
import type { Verb } from "./verb.js";

export const quit: Verb = resettingVerb("QUIT", (s) => s.quit(REPLIES.bye));

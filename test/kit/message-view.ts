// Builds a rules MessageView from header lines and a body for tests of the seed rules and Sieve.
import { messageView, type MessageView } from "../../src/rules/message.js";

export const NOW = Date.UTC(2026, 11, 1, 14, 30, 0); // Tuesday 1 Dec 2026 14:30:00 UTC

export function view(
  header: string | readonly string[],
  body = "Hello\r\n",
  env: Partial<Omit<MessageView, "headers" | "raw" | "bodyOffset" | "size">> = {},
): MessageView {
  const lines = typeof header === "string" ? [header] : header;
  const raw = Buffer.from(lines.join("\r\n") + "\r\n\r\n" + body, "utf8");
  return messageView(raw, {
    envelopeFrom: "sender@remote.test",
    recipients: ["alice@example.test"],
    recipient: "alice@example.test",
    source: "smtp",
    submitAddress: "192.0.2.7",
    authenticated: false,
    now: NOW,
    zoneOffset: 0,
    ...env,
  });
}

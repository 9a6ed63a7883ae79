// Reading an HTTP body (a request to the admin, cluster or message-source APIs, a reply from a
// cluster peer) with a hard size bound: the peer decides how much it sends, we decide how much
// we keep.
import type { Readable } from "node:stream";

/** The whole body, or "too-large" as soon as it passes max bytes (the rest is not read). */
export async function readBounded(stream: Readable, max: number): Promise<Buffer | "too-large"> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) return "too-large";
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A JSON request body as the admin APIs take it: empty means {}; "not-json" when it does not parse. */
export function jsonBody(raw: Buffer): { readonly value: unknown } | "not-json" {
  const text = raw.toString("utf8").trim();
  if (text === "") return { value: {} };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return "not-json";
  }
}

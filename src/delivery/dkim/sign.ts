// DKIM signing (RFC 6376 §5; Ed25519: RFC 8463) of mail the relay channel sends out, on the nodes
// that relay to the Internet (single servers and frontends; backends hand their mail to the
// frontends unsigned, so every message is signed exactly once). The key is chosen by the From:
// domain, else its nearest parent domain that has one (an organisational key, RFC 7489 §3.2
// relaxed alignment); the newest key of that domain signs. Two passes over the spooled body:
// one to hash (streamed, nothing held in memory), then the DKIM-Signature field followed by the
// same bytes. A message that cannot be signed goes out unsigned (logged, counted): signing is
// never a reason to hold mail. Keys are cached for CACHE_MS, so a new key signs within a minute.
import { Readable } from "node:stream";
import { dkimSign } from "mailauth";
import type { Log } from "../../log/logger.js";
import type { Metrics } from "../../log/metrics.js";
import { headerFields, parseAddressList } from "../../proto/header-fields.js";
import { readHeaderSection } from "../../queue/headers.js";
import type { DeliveryJob } from "../../queue/types.js";
import type { Clock } from "../../world/clock.js";
import type { DkimKey } from "./keys.js";
import type { DkimKeyStore } from "./store.js";

const CACHE_MS = 60_000;

export interface DkimSigner {
  /** The job's body as it should be sent: signed when a key applies, else as stored. */
  body(job: DeliveryJob): Promise<() => Readable>;
}

/** The From: domain (single author; RFC 6376 §5.4 and RFC 7489 §3.1 need exactly one). */
export function fromDomain(header: string): string | null {
  const from = headerFields(Buffer.from(header + "\r\n\r\n", "latin1")).filter(
    (f) => f.name.toLowerCase() === "from",
  );
  const addresses = from.flatMap((f) => parseAddressList(f.value));
  if (from.length !== 1 || addresses.length !== 1) return null;
  const a = addresses[0]!;
  return a.slice(a.lastIndexOf("@") + 1).toLowerCase();
}

/** The domain and its parents down to two labels, nearest first. */
export const candidateDomains = (domain: string): string[] => {
  const labels = domain.split(".");
  const out: string[] = [];
  for (let i = 0; labels.length - i >= 2; i++) out.push(labels.slice(i).join("."));
  return out;
};

export function createDkimSigner(o: {
  readonly store: DkimKeyStore;
  readonly clock: Clock;
  /** Tagged SMTP. */
  readonly log: Log;
  readonly metrics: Metrics;
}): DkimSigner {
  const cache = new Map<string, { keys: DkimKey[]; until: number }>();
  const keysOf = async (domain: string): Promise<DkimKey[]> => {
    const now = o.clock.now();
    const hit = cache.get(domain);
    if (hit !== undefined && hit.until > now) return hit.keys;
    const keys = await o.store.keysOf(domain);
    if (cache.size > 10_000) cache.clear();
    cache.set(domain, { keys, until: now + CACHE_MS });
    return keys;
  };
  const keyFor = async (domain: string): Promise<DkimKey | null> => {
    for (const d of candidateDomains(domain)) {
      const [newest] = await keysOf(d);
      if (newest !== undefined) return newest;
    }
    return null;
  };

  return {
    async body(job) {
      const plain = (): Readable => job.body();
      const id = job.envelope.id;
      try {
        const domain = fromDomain(await readHeaderSection(job.body()));
        const key = domain === null ? null : await keyFor(domain);
        if (key === null) {
          o.metrics.dkimSigning?.("no-key");
          return plain;
        }
        const res = await dkimSign(job.body(), {
          canonicalization: "relaxed/relaxed",
          signTime: new Date(o.clock.now()),
          // mailauth reads signatureData (its .d.ts only names the single-key fields).
          signatureData: [
            {
              signingDomain: key.domain,
              selector: key.selector,
              privateKey: key.privateKey,
              algorithm: key.algorithm === "rsa" ? "rsa-sha256" : "ed25519-sha256",
            },
          ],
        } as unknown as Parameters<typeof dkimSign>[1]);
        const signature = res.signatures.trim();
        if ((res.errors ?? []).length > 0 || !/^DKIM-Signature:/i.test(signature)) {
          const first: unknown = (res.errors ?? [])[0];
          throw new Error(first instanceof Error ? first.message : "no signature made");
        }
        o.metrics.dkimSigning?.("signed");
        o.log.info("dkim signed", { id, d: key.domain, s: key.selector, a: key.algorithm });
        const head = Buffer.from(signature + "\r\n");
        return () =>
          Readable.from(
            (async function* () {
              yield head;
              for await (const chunk of job.body()) yield chunk as Buffer;
            })(),
          );
      } catch (e) {
        o.metrics.dkimSigning?.("failed");
        o.log.problem("dkim signing failed, sending unsigned", { id, error: String(e) });
        return plain;
      }
    },
  };
}
